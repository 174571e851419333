import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { resolveSettings } from "@molecule/config";
import { createFakeClock } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defineCheck, PreflightError, runPreflight } from "./index.js";
import { baseEnv, config, removeDir, tempDir } from "./testing.js";

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

const needsConfig = defineCheck({ name: "needs-config", run: ({ config }) => ({ detail: config.name }) });
const envOnly = defineCheck({ name: "env-only", needsConfig: false, run: () => ({ detail: "ran" }) });

describe("runPreflight", () => {
  it("loads config.yaml first and runs the checks with it", async () => {
    await writeFile(join(dir, "config.yaml"), "name: Alpha\n");
    const report = await runPreflight([needsConfig, envOnly], { env: baseEnv(dir), configDir: dir });
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.name, c.status, c.detail])).toEqual([
      ["config", "pass", join(dir, "config.yaml")],
      ["needs-config", "pass", "Alpha"],
      ["env-only", "pass", "ran"],
    ]);
  });

  it("the config dir defaults to WORKSPACE_CONFIG_PATH from the settings", async () => {
    await writeFile(join(dir, "config.yaml"), "name: FromEnv\n");
    const report = await runPreflight([needsConfig], { env: baseEnv(dir, { WORKSPACE_CONFIG_PATH: dir }) });
    expect(report.checks[1]?.detail).toBe("FromEnv");
  });

  it("a config error is the config check's failure and checks that need the config skip", async () => {
    await writeFile(join(dir, "config.yaml"), "a2a:\n  port: abc\n");
    const report = await runPreflight([needsConfig, envOnly], { env: baseEnv(dir), configDir: dir });
    expect(report.ok).toBe(false);
    expect(report.checks.map((c) => [c.name, c.status])).toEqual([
      ["config", "fail"],
      ["needs-config", "skip"],
      ["env-only", "pass"],
    ]);
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]).toMatchObject({
      check: "config",
      code: "E_CONFIG_INVALID",
      title: "config.yaml line 2",
    });
    expect(report.failures[0]?.detail).toContain("a2a.port");
    expect(report.failures[0]?.fix).toContain("a2a.port");
  });

  it.each([
    ["a2a:\n  port: 70000\n", "a2a.port"],
    ["idle_interval_seconds: 59\n", "idle_interval_seconds"],
    ["task_budget: 100\n", "task_budget"],
    ["effort: huge\n", "effort"],
  ])(
    "a value outside the config schema's bounds (%j) fails the config row, the one place they live",
    async (yaml, field) => {
      await writeFile(join(dir, "config.yaml"), yaml);
      const report = await runPreflight([needsConfig], { env: baseEnv(dir), configDir: dir });
      expect(report.failures.map((f) => f.code)).toEqual(["E_CONFIG_INVALID"]);
      expect(report.failures[0]?.detail).toContain(field);
    },
  );

  it("a missing config.yaml is E_CONFIG_MISSING", async () => {
    const report = await runPreflight([], { env: baseEnv(dir), configDir: dir });
    expect(report.failures.map((f) => f.code)).toEqual(["E_CONFIG_MISSING"]);
    expect(report.failures[0]?.fix).toContain("WORKSPACE_CONFIG_PATH");
  });

  it("config warnings become report warnings, which leave ok true", async () => {
    await writeFile(join(dir, "config.yaml"), "promt_files: [a.md]\n");
    const report = await runPreflight([], { env: baseEnv(dir), configDir: dir });
    expect(report.ok).toBe(true);
    expect(report.checks[0]?.status).toBe("warn");
    expect(report.warnings[0]).toMatchObject({ code: "W_CONFIG_UNKNOWN_KEY", severity: "warn", check: "config" });
    expect(report.warnings[0]?.fix).toContain("prompt_files");
  });

  it("a check that throws is a failure with its message, not a crash", async () => {
    const boom = defineCheck({
      name: "boom",
      needsConfig: false,
      run: () => {
        throw new Error("disk on fire");
      },
    });
    const report = await runPreflight([boom, envOnly], { env: baseEnv(dir), configDir: dir, config: config() });
    expect(report.failures.find((f) => f.check === "boom")).toMatchObject({
      code: "E_CHECK_FAILED",
      detail: "disk on fire",
    });
    expect(report.checks.find((c) => c.name === "env-only")?.status).toBe("pass");
  });

  it("a check past its timeout fails with E_CHECK_TIMEOUT and its signal is aborted", async () => {
    const clock = createFakeClock(1_000);
    let aborted = false;
    const hang = defineCheck({
      name: "hang",
      needsConfig: false,
      timeoutMs: 2_000,
      run: ({ signal }) =>
        new Promise(() => {
          signal.addEventListener("abort", () => {
            aborted = true;
          });
        }),
    });
    await writeFile(join(dir, "config.yaml"), "");
    const pending = runPreflight([hang, envOnly], { env: baseEnv(dir), configDir: dir, clock });
    while (clock.pending() === 0) await clock.settle();
    await clock.advance(1_999);
    expect(aborted).toBe(false);
    await clock.advance(1);
    const report = await pending;
    expect(aborted).toBe(true);
    expect(report.failures).toMatchObject([{ check: "hang", code: "E_CHECK_TIMEOUT" }]);
    expect(report.failures[0]?.detail).toContain("2000 ms");
    expect(report.checks.find((c) => c.name === "hang")).toMatchObject({ status: "fail", durationMs: 2_000 });
  });

  it("runs independent checks concurrently", async () => {
    let running = 0;
    let peak = 0;
    const slow = (name: string) =>
      defineCheck({
        name,
        needsConfig: false,
        run: async () => {
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 20));
          running -= 1;
          return {};
        },
      });
    await runPreflight([slow("a"), slow("b"), slow("c")], { env: baseEnv(dir), configDir: dir });
    expect(peak).toBe(3);
  });

  it("a given config skips loading; a skip outcome reports skip with its reason", async () => {
    const skipper = defineCheck({ name: "skipper", run: () => ({ skip: "not for this runtime" }) });
    const report = await runPreflight([skipper], {
      env: baseEnv(dir),
      settings: resolveSettings(baseEnv(dir)).settings,
      configDir: join(dir, "nowhere"),
      config: config(),
    });
    expect(report.checks.map((c) => [c.name, c.status, c.detail])).toEqual([
      ["config", "pass", "given"],
      ["skipper", "skip", "not for this runtime"],
    ]);
  });

  it("warn issues make a warn status; fail issues a failed report", async () => {
    const mixed = defineCheck({
      name: "mixed",
      needsConfig: false,
      run: () => ({
        issues: [
          { severity: "warn", code: "W_X", title: "w", detail: "d", fix: "f" },
          { severity: "fail", code: "E_X", title: "t", detail: "d", fix: "f" },
        ],
      }),
    });
    const report = await runPreflight([mixed], { env: baseEnv(dir), configDir: dir });
    expect(report.checks[1]?.status).toBe("fail");
    expect(report.failures.map((f) => f.code)).toContain("E_X");
    expect(report.warnings.map((f) => f.code)).toEqual(["W_X"]);
  });

  it("refuses two checks with one name, and bad definitions", async () => {
    await expect(runPreflight([envOnly, envOnly], { env: baseEnv(dir) })).rejects.toSatisfy(
      (e) => PreflightError.isInstance(e) && e.code === "E_PREFLIGHT_DUPLICATE_CHECK",
    );
    expect(() => defineCheck({ name: "", run: () => ({}) })).toThrow(/non-empty/);
    expect(() => defineCheck({ name: "x", timeoutMs: 0, run: () => ({}) })).toThrow(/timeoutMs/);
  });

  it("logs one event per check and a summary through an injected logger", async () => {
    const events: object[] = [];
    const logger = { debug: (o: object) => events.push(o), info: (o: object) => events.push(o), warn() {}, error() {} };
    await runPreflight([envOnly], { env: baseEnv(dir), configDir: dir, logger });
    expect(events).toEqual([
      expect.objectContaining({ event: "preflight.check", check: "env-only", status: "pass" }),
      expect.objectContaining({ event: "preflight.done", ok: false, failures: ["E_CONFIG_MISSING"] }),
    ]);
  });
});
