import type { AgentDescriptor } from "@molecule/auth";
import type { Settings, WorkspaceConfig } from "@molecule/config";
import type { Clock } from "./clock.js";

/** One thing wrong, and how to fix it. */
export interface Issue {
  severity: "fail" | "warn";
  /** The name of the check that found it. */
  check: string;
  title: string;
  detail: string;
  fix: string;
  /** Stable code, e.g. `E_RUNTIME_UNKNOWN`, `W_SKILL_MISSING`. */
  code: string;
}

/** An issue as a check returns it (`runPreflight` fills in `check`). */
export type CheckIssue = Omit<Issue, "check"> & { check?: string };

export type CheckStatus = "pass" | "warn" | "fail" | "skip";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  durationMs: number;
  /** What the check found, e.g. the agent's version string, or why it was skipped. */
  detail?: string;
}

export interface PreflightReport {
  /** True when there are no failures (warnings never change it). */
  ok: boolean;
  failures: Issue[];
  warnings: Issue[];
  checks: CheckResult[];
}

/** pino-compatible; packages are silent without one. */
export interface PreflightLogger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** What every check's `run` gets. */
export interface PreflightContext {
  env: Env;
  settings: Settings;
  /** The directory holding config.yaml. */
  configDir: string;
  /** The directory the agent works in (its cwd), absolute. */
  workspaceDir: string;
  /** The loaded config; undefined when loading it failed (checks that need it are skipped then). */
  config: WorkspaceConfig | undefined;
  clock: Clock;
  logger: PreflightLogger | undefined;
  /** The agent registry: binaries, credential env vars, probes, re-login hints, known-bad versions. */
  agents: readonly AgentDescriptor[];
  /** Runtimes this install can run (default: every agent's id, then `command` and `adapter`). */
  runtimes: readonly string[];
  /** Aborted when the check's own timeout passes; long-running work (child processes) should stop. */
  signal: AbortSignal;
}

/** The context of a check that needs the config (the default): the config is there. */
export interface ConfiguredContext extends PreflightContext {
  config: WorkspaceConfig;
}

/** What a check resolves to. No fail-severity issue means pass. */
export interface CheckOutcome {
  issues?: CheckIssue[];
  /** Shown in the report (e.g. the agent's version string). */
  detail?: string;
  /** Set to report the check as `skip` with this reason (its issues still count). */
  skip?: string;
}

export interface Check {
  readonly name: string;
  /** ms; a check still running after it fails with `E_CHECK_TIMEOUT`. */
  readonly timeoutMs: number;
  /** Skipped (status `skip`) when the config could not be loaded. */
  readonly needsConfig: boolean;
  run(ctx: PreflightContext): Promise<CheckOutcome>;
}

/** What `runPreflight` and the gate take; every field has a default. */
export interface PreflightOptions {
  /** Default `process.env`. */
  env?: Env;
  /** Default `resolveSettings(env).settings`. */
  settings?: Settings;
  /** Default `settings.configPath`. */
  configDir?: string;
  /**
   * The directory the agent works in (the runtime's `workspaceDir`); the agent-auth check reads
   * the files the agent would find from there (Gemini CLI's `.env`). Default `process.cwd()`.
   */
  workspaceDir?: string;
  /** A config already loaded; when absent, `runPreflight` loads `<configDir>/config.yaml` as its first check. */
  config?: WorkspaceConfig;
  clock?: Clock;
  logger?: PreflightLogger;
  /** The agent registry the agent checks and the gate read. Default `AGENTS` from `@molecule/auth`. */
  agents?: readonly AgentDescriptor[];
  /** Runtimes the `runtime` check accepts. Default: every agent's id in `agents`, then `command` and `adapter`. */
  runtimes?: readonly string[];
}
