import { resolve } from "node:path";
import { AGENTS } from "@molecule/auth";
import { ConfigError, loadConfig, resolveSettings, type WorkspaceConfig } from "@molecule/config";
import { errorText } from "@molecule/internal";
import { realClock } from "./clock.js";
import { PreflightError } from "./errors.js";
import { runtimesOf } from "./runtimes.js";
import type {
  Check,
  CheckIssue,
  CheckOutcome,
  CheckResult,
  ConfiguredContext,
  Issue,
  PreflightContext,
  PreflightOptions,
  PreflightReport,
} from "./types.js";

/** Default per-check timeout, ms. @internal */
export const DEFAULT_CHECK_TIMEOUT_MS = 10_000;

/** What every check definition has: a name and an optional timeout. */
export interface CheckDefinitionBase {
  name: string;
  /** ms; default 10 000. */
  timeoutMs?: number;
}

/** A check that needs the config (the default): skipped when config.yaml could not be loaded. */
export interface ConfiguredCheckDefinition extends CheckDefinitionBase {
  needsConfig?: true;
  run(ctx: ConfiguredContext): CheckOutcome | Promise<CheckOutcome>;
}

/** A check that runs even when config.yaml could not be loaded (environment checks). */
export interface UnconfiguredCheckDefinition extends CheckDefinitionBase {
  needsConfig: false;
  run(ctx: PreflightContext): CheckOutcome | Promise<CheckOutcome>;
}

/** Defines a named check for `runPreflight` (and the gate). */
export function defineCheck(definition: ConfiguredCheckDefinition | UnconfiguredCheckDefinition): Check {
  if (typeof definition?.name !== "string" || definition.name.trim() === "" || typeof definition.run !== "function") {
    throw new PreflightError({
      code: "E_PREFLIGHT_BAD_CHECK",
      message: "defineCheck needs { name: a non-empty string, run: (ctx) => outcome }",
    });
  }
  const timeoutMs = definition.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new PreflightError({
      code: "E_PREFLIGHT_BAD_CHECK",
      message: `check "${definition.name}": timeoutMs must be a positive number of ms, got ${timeoutMs}`,
    });
  }
  const name = definition.name;
  if (definition.needsConfig === false) {
    const run = definition.run;
    return { name, timeoutMs, needsConfig: false, run: async (ctx) => run(ctx) };
  }
  const run = definition.run;
  return {
    name,
    timeoutMs,
    needsConfig: true,
    run: async (ctx) => (ctx.config ? run({ ...ctx, config: ctx.config }) : { skip: "config.yaml not loaded" }),
  };
}

/** The name of the config-loading step, always the report's first check. @internal */
export const CONFIG_CHECK_NAME = "config";

/**
 * Runs the checks and gathers one report. Loading the config comes first (unless `ctx.config` is
 * given): a config error is its failure, and checks that need the config are `skip`. The other
 * checks then run concurrently, each with its own timeout; a check that throws or times out becomes
 * a failure, never a crash.
 */
export async function runPreflight(checks: readonly Check[], ctx: PreflightOptions = {}): Promise<PreflightReport> {
  const seen = new Set<string>([CONFIG_CHECK_NAME]);
  for (const check of checks) {
    if (seen.has(check.name)) {
      throw new PreflightError({
        code: "E_PREFLIGHT_DUPLICATE_CHECK",
        message: `two checks are named "${check.name}"; give each check its own name`,
      });
    }
    seen.add(check.name);
  }

  const env = ctx.env ?? process.env;
  const settings = ctx.settings ?? resolveSettings(env).settings;
  const configDir = ctx.configDir ?? settings.configPath;
  const clock = ctx.clock ?? realClock;
  const logger = ctx.logger;
  const agents = ctx.agents ?? AGENTS;

  const configStart = clock.now();
  const configIssues: Issue[] = [];
  let config: WorkspaceConfig | undefined = ctx.config;
  let configDetail: string;
  if (config) {
    configDetail = "given";
  } else {
    try {
      const loaded = await loadConfig(configDir, { env });
      config = loaded.config;
      configDetail = loaded.file;
      for (const w of loaded.warnings) {
        const where = w.line === undefined ? "" : ` (line ${w.line})`;
        configIssues.push({
          severity: "warn",
          check: CONFIG_CHECK_NAME,
          code: w.code,
          title: `config.yaml${where}`,
          detail: w.message,
          fix: capitalise(w.fix),
        });
      }
    } catch (error) {
      configDetail = error instanceof Error ? (error.message.split("\n")[0] ?? error.message) : String(error);
      configIssues.push(...configErrorIssues(error));
    }
  }
  const configResult: CheckResult = {
    name: CONFIG_CHECK_NAME,
    status: statusOf(configIssues),
    durationMs: clock.now() - configStart,
    detail: configDetail,
  };

  const base: Omit<PreflightContext, "signal"> = {
    env,
    settings,
    configDir,
    workspaceDir: resolve(ctx.workspaceDir ?? process.cwd()),
    config,
    clock,
    logger,
    agents,
    runtimes: ctx.runtimes ?? runtimesOf(agents),
  };
  const outcomes = await Promise.all(checks.map((check) => runOne(check, base)));

  const results: CheckResult[] = [configResult];
  const issues: Issue[] = [...configIssues];
  for (const { result, issues: found } of outcomes) {
    results.push(result);
    issues.push(...found);
  }
  const failures = issues.filter((i) => i.severity === "fail");
  const warnings = issues.filter((i) => i.severity === "warn");
  const report: PreflightReport = { ok: failures.length === 0, failures, warnings, checks: results };
  logger?.info(
    { event: "preflight.done", ok: report.ok, failures: failures.map((f) => f.code), warnings: warnings.length },
    report.ok ? "preflight passed" : "preflight failed",
  );
  return report;
}

async function runOne(
  check: Check,
  base: Omit<PreflightContext, "signal">,
): Promise<{ result: CheckResult; issues: Issue[] }> {
  const { clock, logger } = base;
  const started = clock.now();
  const finish = (status: CheckResult["status"], issues: Issue[], detail?: string) => {
    const result: CheckResult = { name: check.name, status, durationMs: clock.now() - started };
    if (detail !== undefined) result.detail = detail;
    logger?.debug?.({ event: "preflight.check", check: check.name, status, durationMs: result.durationMs });
    return { result, issues };
  };

  if (check.needsConfig && !base.config) return finish("skip", [], "needs config.yaml, which did not load");

  const controller = new AbortController();
  let timer: unknown;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = clock.setTimeout(() => resolve("timeout"), check.timeoutMs);
  });
  try {
    const outcome = await Promise.race([check.run({ ...base, signal: controller.signal }), timedOut]);
    if (outcome === "timeout") {
      controller.abort();
      const issue: Issue = {
        severity: "fail",
        check: check.name,
        code: "E_CHECK_TIMEOUT",
        title: `Check ${check.name} timed out`,
        detail: `it did not finish within ${check.timeoutMs} ms`,
        fix: "Find out what it waits on (a hung agent binary, a slow disk) and fix that; the check's detail names it.",
      };
      return finish("fail", [issue], `timed out after ${check.timeoutMs} ms`);
    }
    const issues = (outcome.issues ?? []).map((i): Issue => ({ ...i, check: i.check ?? check.name }));
    const status = outcome.skip !== undefined && issues.length === 0 ? "skip" : statusOf(issues);
    return finish(status, issues, outcome.skip ?? outcome.detail);
  } catch (error) {
    const message = errorText(error);
    const issue: Issue = {
      severity: "fail",
      check: check.name,
      code: "E_CHECK_FAILED",
      title: `Check ${check.name} failed to run`,
      detail: message,
      fix: "Fix the cause named above; if it is a bug in the check, report it with this message.",
    };
    return finish("fail", [issue], message);
  } finally {
    clock.clearTimeout(timer);
  }
}

function statusOf(issues: readonly CheckIssue[]): CheckResult["status"] {
  if (issues.some((i) => i.severity === "fail")) return "fail";
  return issues.length > 0 ? "warn" : "pass";
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function configErrorIssues(error: unknown): Issue[] {
  if (!ConfigError.isInstance(error)) {
    const message = errorText(error);
    return [
      {
        severity: "fail",
        check: CONFIG_CHECK_NAME,
        code: "E_CONFIG_INVALID",
        title: "config.yaml could not be loaded",
        detail: message,
        fix: "Fix the cause named above.",
      },
    ];
  }
  if (error.problems.length === 0) {
    const title = error.code === "E_CONFIG_MISSING" ? "config.yaml missing" : "config.yaml is not valid YAML";
    const detail = error.message.replace(/\. Fix: .*$/s, "");
    return [{ severity: "fail", check: CONFIG_CHECK_NAME, code: error.code, title, detail, fix: error.fix }];
  }
  return error.problems.map((p) => ({
    severity: "fail",
    check: CONFIG_CHECK_NAME,
    code: p.code,
    title: `config.yaml${p.line === undefined ? "" : ` line ${p.line}`}`,
    detail: `${p.field || "(top level)"}: ${p.message} (${error.file})`,
    fix: capitalise(p.fix),
  }));
}
