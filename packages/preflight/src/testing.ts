// Test helpers (not exported from the package).
import { chmod, writeFile } from "node:fs/promises";
import {
  resolveSettings,
  type WorkspaceConfig,
  type WorkspaceConfigInput,
  workspaceConfigSchema,
} from "@molecule/config";
import { OFFLINE_CLAUDE_ENV } from "@molecule/test-support";
import { runPreflight } from "./run.js";
import type { Check, Env, PreflightOptions, PreflightReport } from "./types.js";

export const WORKSPACE_ID = "3f2c1b7e-9a4d-4c2e-8f1a-0b6d5e7c9a21";
export { CLAUDE_BIN_DIR as REAL_CLAUDE_DIR, removeDir, tempDir } from "@molecule/test-support";

export function config(input: WorkspaceConfigInput = {}, raw: Partial<Record<keyof WorkspaceConfig, unknown>> = {}) {
  // `raw` overrides values after parsing, to feed checks values the schema would refuse.
  return Object.assign(workspaceConfigSchema.parse(input), raw) as WorkspaceConfig;
}

/** A base env: valid workspace settings, an isolated HOME, and only the given PATH. */
export function baseEnv(home: string, extra: Env = {}): Env {
  return {
    HOME: home,
    PATH: "/usr/bin:/bin",
    WORKSPACE_ID,
    PLATFORM_URL: "http://localhost:8080",
    ...OFFLINE_CLAUDE_ENV,
    ...extra,
  };
}

export async function runOne(
  check: Check,
  options: { env: Env; config?: WorkspaceConfig; configDir?: string } & PreflightOptions,
): Promise<PreflightReport> {
  const settings = options.settings ?? resolveSettings(options.env).settings;
  return runPreflight([check], {
    ...options,
    settings,
    configDir: options.configDir ?? settings.configPath,
    config: options.config ?? config(),
  });
}

/** Writes an executable Node script (absolute shebang, so PATH need not hold node). */
export async function writeScript(path: string, body: string): Promise<string> {
  await writeFile(path, `#!${process.execPath}\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

export function statusOf(report: PreflightReport, name: string): string | undefined {
  return report.checks.find((c) => c.name === name)?.status;
}
