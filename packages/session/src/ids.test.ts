import { describe, expect, it } from "vitest";
import { isValidSessionId } from "./ids.js";
import { isMissingSessionError, sessionIdFromError } from "./index.js";

const ID = "bc8cfc13-4caa-4c53-89fc-d155ee7101a4";

describe("isMissingSessionError", () => {
  it("matches the CLI's text in any case", () => {
    expect(isMissingSessionError(`No conversation found with session ID: ${ID}`)).toBe(true);
    expect(isMissingSessionError(`error: NO CONVERSATION FOUND WITH SESSION ID: ${ID}\n`)).toBe(true);
    expect(isMissingSessionError("no conversation found with session id")).toBe(true);
  });

  it("does not match other failures or non-strings", () => {
    expect(isMissingSessionError("Not logged in · Please run /login")).toBe(false);
    expect(isMissingSessionError("No conversation found")).toBe(false);
    expect(isMissingSessionError(undefined)).toBe(false);
    expect(isMissingSessionError(42)).toBe(false);
  });
});

describe("sessionIdFromError", () => {
  it("extracts the id", () => {
    expect(sessionIdFromError(`No conversation found with session ID: ${ID}`)).toBe(ID);
    expect(sessionIdFromError(`stderr: no conversation found with session id ${ID}.\nmore`)).toBe(ID);
    expect(sessionIdFromError(`No conversation found with session ID: "${ID}"`)).toBe(ID);
  });

  it("returns undefined when there is no (valid) id", () => {
    expect(sessionIdFromError("No conversation found with session ID:")).toBeUndefined();
    expect(sessionIdFromError("No conversation found with session ID: abc")).toBeUndefined();
    expect(sessionIdFromError("something else entirely")).toBeUndefined();
    expect(sessionIdFromError(null)).toBeUndefined();
  });
});

describe("session id rule", () => {
  it("accepts UUID-like ids of 8 to 64 characters", () => {
    expect(isValidSessionId(ID)).toBe(true);
    expect(isValidSessionId("abcd1234")).toBe(true);
    expect(isValidSessionId("a".repeat(64))).toBe(true);
  });

  it("refuses globs, paths, dots, flags and bad lengths", () => {
    for (const bad of [
      "*",
      "????????",
      "../../etc/passwd",
      "abc/defgh",
      "abcd.efgh",
      "--resume-x",
      "abc1234",
      "a".repeat(65),
      ` ${ID}`,
      "",
    ]) {
      expect(isValidSessionId(bad), bad).toBe(false);
    }
  });
});
