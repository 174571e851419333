import { describe, expect, it } from "vitest";
import { createMasker, REDACTED } from "./mask.js";

const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
const PLATFORM = "Zq3xV9kPq2Lm8Rt5Yw1Nc7Bd4Hf6Gj0Ks2Ua9Ee3IoP"; // 43 characters, base64url

describe("createMasker", () => {
  const { mask } = createMasker();

  it("masks a bearer header and keeps the word", () => {
    expect(mask("Authorization: Bearer abcdefgh12345678")).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(mask("Bearer short")).toBe("Bearer short");
  });

  it("masks Anthropic and sk- keys, keeping their first characters", () => {
    expect(mask("key sk-ant-api03-abcdefghijklmnop done")).toBe(`key sk-ant-api03-…${REDACTED} done`);
    expect(mask("sk-proj1234567890abcdefghij")).toBe(`sk-pr…${REDACTED}`);
    expect(mask("task-list and sk-learn")).toBe("task-list and sk-learn");
  });

  it("masks JWTs and 43-character platform tokens, not hashes or words", () => {
    expect(mask(`id ${JWT}.`)).toBe(`id ${REDACTED}.`);
    expect(mask(`token ${PLATFORM}`)).toBe(`token ${REDACTED}`);
    const sha = "3f786850e387550fdab836ed7e6dc881de23001b";
    expect(mask(sha)).toBe(sha);
    const word = "a_rather_long_snake_case_identifier_name_xy";
    expect(word).toHaveLength(43);
    expect(mask(word)).toBe(word);
  });

  it("masks secret-named assignments in env, query and JSON shapes", () => {
    expect(mask("MY_API_KEY=abcdefgh123")).toBe(`MY_API_KEY=${REDACTED}`);
    expect(mask('{"accessToken": "abcdefgh123", "n": 1}')).toBe(`{"accessToken": "${REDACTED}", "n": 1}`);
    expect(mask("?password=hunter2hunter2&x=1")).toBe(`?password=${REDACTED}&x=1`);
    expect(mask("max_tokens: 4096, tokens_used: 123456789")).toBe("max_tokens: 4096, tokens_used: 123456789");
  });

  it("masks each known value, longest first, ignoring short ones", () => {
    const values = new Set(["secret-value-1", "secret-value-12345"]);
    const masker = createMasker({ values: [...values, "short", undefined] });
    expect(masker.mask("a secret-value-12345 b secret-value-1 short")).toBe(`a ${REDACTED} b ${REDACTED} short`);
  });

  it("reads a live set of values at every call", () => {
    const values = new Set<string>();
    const masker = createMasker({ values });
    expect(masker.mask("rotated-token-1")).toBe("rotated-token-1");
    values.add("rotated-token-1");
    expect(masker.mask("rotated-token-1")).toBe(REDACTED);
  });

  it("masks assignments of the given names and extra patterns", () => {
    const masker = createMasker({ names: ["GEMINI_CREDS"], patterns: [/ghp_[A-Za-z0-9]{20}/] });
    expect(masker.mask("GEMINI_CREDS=abcdefgh12 and ghp_abcdefghij0123456789")).toBe(
      `GEMINI_CREDS=${REDACTED} and ${REDACTED}`,
    );
  });

  it("with shapes: false masks known values only", () => {
    const masker = createMasker({ values: ["my-known-secret-1"], minLength: 16, shapes: false });
    expect(masker.mask("my-known-secret-1 Bearer abcdefgh12345678 sk-ant-api03-abcdefghijkl")).toBe(
      `${REDACTED} Bearer abcdefgh12345678 sk-ant-api03-abcdefghijkl`,
    );
  });

  it("never masks its own output twice", () => {
    const once = mask("api_key=abcdefgh123 Bearer abcdefgh12345678");
    expect(mask(once)).toBe(once);
  });
});
