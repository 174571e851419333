import { resolve } from "node:path";
import type { Io } from "../io.js";

export interface PreflightCommandOptions {
  config?: string;
  json?: boolean;
  /** false with --no-auth */
  auth: boolean;
  /** false with --no-agent */
  agent: boolean;
}

/** `molecule preflight`: prints the report (text or --json) and resolves to the exit code. */
export async function preflightCommand(options: PreflightCommandOptions, io: Io): Promise<number> {
  // Loaded here, not at startup, so `molecule --help` and usage errors stay instant.
  const [{ resolveSettings }, { renderReport, runPreflight, workspaceChecks }] = await Promise.all([
    import("@molecule/config"),
    import("@molecule/preflight"),
  ]);

  const env: Record<string, string | undefined> = { ...io.env };
  if (options.config !== undefined) env.WORKSPACE_CONFIG_PATH = resolve(options.config);
  // --no-auth is the operator switch itself, so the agent-auth check still runs and warns that it is off.
  if (!options.auth) env.MOLECULE_PREFLIGHT_CHECK_AUTH = "false";
  const { settings } = resolveSettings(env);

  const report = await runPreflight(workspaceChecks(undefined, { agentChecks: options.agent }), {
    env,
    settings,
    configDir: settings.configPath,
  });

  if (options.json) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const color = io.stdout.isTTY === true && !env.NO_COLOR;
    io.stdout.write(renderReport(report, { color }));
    const count = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
    const skipped = report.checks.filter((c) => c.status === "skip").length;
    const summary = report.ok
      ? `Preflight passed: ${count(report.checks.length, "check")}, ${count(report.warnings.length, "warning")}${skipped ? `, ${skipped} skipped` : ""}.`
      : `Preflight failed: ${count(report.failures.length, "failure")}, ${count(report.warnings.length, "warning")}.`;
    io.stdout.write(`${summary}\n`);
  }
  return report.ok ? 0 : 1;
}
