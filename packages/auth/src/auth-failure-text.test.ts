import { describe, expect, it } from "vitest";
import { isAuthFailureText } from "./auth-failure-text.js";

describe("isAuthFailureText", () => {
  it.each([
    "Not logged in · Please run /login",
    "please run /login",
    "Invalid API key · Fix external API key",
    "API Error: 401 invalid bearer token",
    '{"type":"error","error":{"type":"authentication_error","message":"x"}}',
    '{"type":"assistant","error":"authentication_failed"}',
    "401 Unauthorized",
    "UNAUTHORIZED",
    "request failed with status 401.",
    "HTTP/1.1 401",
    "(401)",
    "status=401",
  ])("matches %j", (text) => {
    expect(isAuthFailureText(text)).toBe(true);
  });

  it.each([
    "contribute to your 401k",
    "acted unauthorizedly",
    "port 4010 is busy",
    "14015 tokens",
    "version 1.401.2",
    "request id a401b",
    "logged in as alice",
    "API Error: 500 internal server error",
    "rate limited (429)",
    "",
  ])("does not match %j", (text) => {
    expect(isAuthFailureText(text)).toBe(false);
  });

  it("never throws, and non-strings are false", () => {
    for (const value of [undefined, null, 401, {}, [], Symbol("x"), () => "not logged in"]) {
      expect(isAuthFailureText(value)).toBe(false);
    }
  });

  it("is not stateful across calls (no lastIndex surprises)", () => {
    expect(isAuthFailureText("not logged in")).toBe(true);
    expect(isAuthFailureText("not logged in")).toBe(true);
  });
});
