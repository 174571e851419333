// The `*.`-first redact paths are matched by createLogger's own formatter (pino's wildcard-first
// redactor ran over every field of every line): the same lines as pino's `redact` with every path.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { REDACTED } from "@molecule/internal";
import { removeDir, tempDir } from "@molecule/test-support";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger, flushLogs, REDACT_PATHS, redactNested } from "./logger.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir("logger-redact-");
});
afterEach(async () => {
  await removeDir(dir);
});

const SAMPLES: Array<Record<string, unknown>> = [
  { event: "turn.finished", taskId: "t-1", outcome: "ok", ms: 3 },
  { event: "x", token: "top-secret-000", nested: { token: "nested-secret-001", keep: "visible" } },
  { req: { headers: { authorization: "Bearer abc-002", accept: "json" } }, headers: { Authorization: "b-003" } },
  { spawn: { env: { ANTHROPIC_API_KEY: "k-004", PATH: "/bin" }, ANTHROPIC_API_KEY: "k-005" } },
  { a: { "x-api-key": "k-006", apiKey: "k-007", credentials: { user: "u" } }, list: [{ token: "in-array-008" }] },
  {
    a: { accessToken: "k-009", refreshToken: "k-010", auth_token: "k-011" },
    n: null,
    deep: { b: { token: "keep-012" } },
  },
  { err: { type: "Error", message: "m", stack: "s", token: "k-013" }, msg2: "text" },
];

async function lines(log: pino.Logger, file: string): Promise<unknown[]> {
  for (const [i, sample] of SAMPLES.entries()) {
    log.info(sample, `message ${i}`);
    log.child({ bound: { token: "bound-secret-014" }, plain: 1 }).warn(sample);
  }
  await flushLogs();
  return (await readFile(file, "utf8"))
    .trim()
    .split("\n")
    .map((line) => {
      const { time: _time, ...rest } = JSON.parse(line) as Record<string, unknown>;
      return rest;
    });
}

describe("createLogger's redaction", () => {
  it("writes the same lines as pino's redact with every path (wildcards included)", async () => {
    const ours = join(dir, "ours.log");
    const reference = join(dir, "pino.log");
    const expected = await lines(
      pino(
        {
          redact: { paths: [...REDACT_PATHS], censor: REDACTED },
          base: { service: "molecule-runtime" },
          formatters: { level: (label) => ({ level: label }) },
        },
        pino.destination({ dest: reference, sync: true }),
      ),
      reference,
    );
    expect(await lines(createLogger({ file: ours }), ours)).toEqual(expected);
    const text = await readFile(ours, "utf8");
    for (const secret of ["top-secret", "nested-secret", "abc-002", "b-003", "k-005", "k-01", "bound-secret"]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("in-array-008"); // `*.token` is one level down, not inside arrays: as pino
    expect(text).toContain("keep-012"); // two levels down: no path names it
    expect(text).toContain("k-004"); // spawn.env.X too (the daemon's masking logger masks known values)
  });

  it("never changes the logged object", () => {
    const sample = { nested: { token: "secret-value", headers: { authorization: "x" } } };
    const copy = structuredClone(sample);
    const out = redactNested(sample);
    expect(sample).toEqual(copy);
    expect(out).toEqual({ nested: { token: REDACTED, headers: { authorization: REDACTED } } });
    const untouched = { event: "x", nested: { keep: 1 } };
    expect(redactNested(untouched)).toBe(untouched);
  });
});
