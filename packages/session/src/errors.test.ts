import { describe, expect, it } from "vitest";
import { SessionError } from "./index.js";

describe("SessionError", () => {
  it("carries code, name and cause, and is recognised by its marker", () => {
    const cause = new Error("EACCES");
    const error = new SessionError({ code: "E_SESSION_STORE_WRITE", message: "cannot write", cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("SessionError");
    expect(error.code).toBe("E_SESSION_STORE_WRITE");
    expect(error.cause).toBe(cause);
    expect(SessionError.isInstance(error)).toBe(true);
  });

  it("isInstance recognises another copy's error by the Symbol.for marker, and nothing else", () => {
    const foreign = Object.assign(new Error("x"), { [Symbol.for("molecule.error.SessionError")]: true });
    expect(SessionError.isInstance(foreign)).toBe(true);
    expect(SessionError.isInstance(new Error("x"))).toBe(false);
    expect(SessionError.isInstance(null)).toBe(false);
    expect(SessionError.isInstance("E_SESSION_INVALID_ID")).toBe(false);
  });
});
