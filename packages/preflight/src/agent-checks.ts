import { spawn } from "node:child_process";
import { isAbsolute, resolve } from "node:path";
import { type AgentDescriptor, checkAgentAuth } from "@molecule/auth";
import type { WorkspaceConfig } from "@molecule/config";
import { findExecutable } from "@molecule/internal";
import type { Clock } from "./clock.js";
import { agentVersionIssues } from "./known-bad.js";
import { defineCheck } from "./run.js";
import { agentFor, COMMAND_RUNTIME } from "./runtimes.js";
import type { CheckIssue, Env } from "./types.js";

/**
 * How long `<bin> --version` may take, ms. Gemini CLI answers in ~2 s on a quiet machine (it
 * re-launches itself with a bigger heap first) and took 5.7–7 s on a loaded 2-core one: 5 s failed
 * a healthy install. A hung binary still fails within 15 s. @internal
 */
export const AGENT_VERSION_TIMEOUT_MS = 15_000;

/** The env switch that turns the agent auth gate off (emergency use). @internal */
export const CHECK_AUTH_ENV = "MOLECULE_PREFLIGHT_CHECK_AUTH";

/** The binary a config runs: an absolute `runtime_config.command` wins, else the runtime's agent. @internal */
export function agentCommandFor(config: WorkspaceConfig, agents: readonly AgentDescriptor[]): string | undefined {
  const command = config.runtime_config.command?.trim();
  if (command && isAbsolute(command)) return command;
  if (config.runtime === COMMAND_RUNTIME) return command || undefined;
  return agentFor(agents, config.runtime)?.binary;
}

/** Resolves a command like a shell does: a path as given, a bare name through `PATH`. @internal */
export function resolveCommand(command: string, env: Env): Promise<string | undefined> {
  return findExecutable(command, env);
}

type VersionResult =
  | { kind: "ok"; version: string }
  | { kind: "exit"; code: number | null; signal: string | null; output: string }
  | { kind: "timeout" }
  | { kind: "spawn-error"; message: string };

function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  const trimmed = line.trim();
  return trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
}

/** Runs `<bin> <args>` (e.g. `--version`), killing it (and its process group) after `timeoutMs` on `clock`. @internal */
export function runVersion(
  bin: string,
  args: readonly string[],
  options: { env: Env; clock: Clock; timeoutMs: number; signal?: AbortSignal },
): Promise<VersionResult> {
  return new Promise((resolvePromise) => {
    let stdout = "";
    let stderr = "";
    let settled = false;
    const child = spawn(bin, [...args], {
      env: { ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: process.platform !== "win32",
    });
    const kill = () => {
      try {
        if (child.pid !== undefined && process.platform !== "win32") process.kill(-child.pid, "SIGKILL");
        else child.kill("SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const done = (result: VersionResult) => {
      if (settled) return;
      settled = true;
      options.clock.clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      resolvePromise(result);
    };
    const timer = options.clock.setTimeout(() => {
      kill();
      done({ kind: "timeout" });
    }, options.timeoutMs);
    const onAbort = () => {
      kill();
      done({ kind: "timeout" });
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      if (stdout.length < 64 * 1024) stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    child.on("error", (error) => done({ kind: "spawn-error", message: error.message }));
    child.on("close", (code, signal) => {
      if (code === 0) done({ kind: "ok", version: firstLine(stdout) || firstLine(stderr) || "(no output)" });
      else done({ kind: "exit", code, signal, output: firstLine(stderr) || firstLine(stdout) });
    });
  });
}

/**
 * The agent binary exists (an absolute `runtime_config.command`, else the runtime's agent's
 * `binary` through `PATH`) and answers its `versionArgs` within 15 s; the version string is the
 * check's detail. A version whose major (for 0.x, its minor) differs from the agent's
 * `testedVersion`, or in one of its `knownBadVersions` ranges, warns (never fails). For the
 * `command` runtime only existence is checked (an arbitrary command may not know `--version`).
 */
export const agentBinaryCheck = defineCheck({
  name: "agent-binary",
  timeoutMs: AGENT_VERSION_TIMEOUT_MS + 5_000,
  async run({ config, env, clock, signal, agents }) {
    const agent = agentFor(agents, config.runtime);
    const command = agentCommandFor(config, agents);
    if (command === undefined) {
      if (config.runtime === COMMAND_RUNTIME) {
        return {
          issues: [
            {
              severity: "fail",
              code: "E_AGENT_COMMAND_MISSING",
              title: "No agent command",
              detail: "runtime is command but runtime_config.command is not set",
              fix: "Set runtime_config.command to the agent's executable (an absolute path or a name on PATH).",
            },
          ],
        };
      }
      return { skip: `no known agent binary for runtime ${config.runtime}` };
    }
    const bin = await resolveCommand(command, env);
    if (bin === undefined) {
      const where = command.includes("/")
        ? `${resolve(command)} is not an executable file`
        : `${command} is not on PATH`;
      return {
        issues: [
          {
            severity: "fail",
            code: "E_AGENT_BINARY_MISSING",
            title: "Agent binary not found",
            detail: `${where} (runtime ${config.runtime})`,
            fix: agent?.installHint
              ? `${agent.installHint} Or set runtime_config.command to its absolute path.`
              : `Install ${command} so it is on PATH, or set runtime_config.command to its absolute path.`,
          },
        ],
      };
    }
    if (config.runtime === COMMAND_RUNTIME) return { detail: bin };

    const args = agent?.versionArgs ?? ["--version"];
    const shown = `${bin} ${args.join(" ")}`;
    const result = await runVersion(bin, args, { env, clock, timeoutMs: AGENT_VERSION_TIMEOUT_MS, signal });
    if (result.kind === "ok") {
      return { detail: result.version, issues: agent ? agentVersionIssues(agent, result.version) : [] };
    }
    const issue = (detail: string, fix: string): CheckIssue => ({
      severity: "fail",
      code: result.kind === "timeout" ? "E_AGENT_VERSION_TIMEOUT" : "E_AGENT_VERSION_FAILED",
      title: `Agent binary does not answer ${args.join(" ")}`,
      detail,
      fix,
    });
    switch (result.kind) {
      case "timeout":
        return {
          issues: [
            issue(
              `${shown} did not answer within ${AGENT_VERSION_TIMEOUT_MS / 1000} s (killed)`,
              "Check that the agent is installed completely (for Claude Code its postinstall step must have run) and is not waiting on input or the network.",
            ),
          ],
        };
      case "exit":
        return {
          issues: [
            issue(
              `${shown} exited with ${result.code === null ? `signal ${result.signal}` : `code ${result.code}`}${result.output ? `: ${result.output}` : ""}`,
              `Reinstall the agent CLI; run ${shown} by hand to see why it fails.`,
            ),
          ],
        };
      default:
        return {
          issues: [
            issue(`${bin} could not be started: ${result.message}`, "Reinstall the agent CLI or fix its permissions."),
          ],
        };
    }
  },
});

function timeLeft(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.round(minutes / 60)} h`;
}

function authGateOff(env: Env): boolean {
  const value = env[CHECK_AUTH_ENV]?.trim().toLowerCase();
  return value === "false" || value === "0" || value === "off" || value === "no";
}

/**
 * The token-free, network-free auth gate for the runtime's agent (`checkAgentAuth` from
 * @molecule/auth with the descriptor's `authProbe`), reading what the runtime's agent reads: its
 * home under the settings' state dir (unless its own variable names one), the workspace dir, and
 * `runtime_config.base_url`. A not-ok state fails with the probe's fix or the descriptor's
 * `reloginHint`; `expiring` and `refreshable` warn with the time left.
 * `MOLECULE_PREFLIGHT_CHECK_AUTH=false` turns it off (a warning says so).
 */
export const agentAuthCheck = defineCheck({
  name: "agent-auth",
  async run({ config, env, clock, agents, settings, workspaceDir }) {
    if (authGateOff(env)) {
      return {
        issues: [
          {
            severity: "warn",
            code: "W_AGENT_AUTH_CHECK_OFF",
            title: "Agent auth gate is off",
            detail: `${CHECK_AUTH_ENV}=false (or --no-auth): the agent's login is not checked, so work may be claimed while it is logged out`,
            fix: `Unset ${CHECK_AUTH_ENV} once the emergency is over.`,
          },
        ],
        skip: "auth gate off",
      };
    }
    const agent = config.runtime;
    const descriptor = agentFor(agents, agent);
    if (descriptor === undefined) return { skip: `no credential probe for runtime ${agent}` };
    const relogin = descriptor.reloginHint;

    // The agent's home as the runtime runs it: its own variable, else <stateDir>/agents/<id>.
    const result = await checkAgentAuth({
      agent,
      probe: descriptor.authProbe,
      env: { ...env },
      stateDir: settings.stateDir,
      cwd: workspaceDir,
      baseUrl: config.runtime_config.base_url,
      clock,
    });
    const issues: CheckIssue[] = [];
    if (!result.ok) {
      issues.push({
        severity: "fail",
        code: `E_AGENT_AUTH_${result.state.toUpperCase().replace(/-/g, "_")}`,
        title: "Agent is not logged in",
        detail: `${agent}: ${result.reason}`,
        fix: result.fix ?? relogin,
      });
    } else if (result.state === "expiring" || result.state === "refreshable") {
      const left = result.expiresAt === undefined ? undefined : result.expiresAt - clock.now();
      const when =
        left === undefined ? "" : left >= 0 ? ` (expires in ${timeLeft(left)})` : ` (expired ${timeLeft(left)} ago)`;
      issues.push({
        severity: "warn",
        code: result.state === "expiring" ? "W_AGENT_AUTH_EXPIRING" : "W_AGENT_AUTH_REFRESHABLE",
        title: result.state === "expiring" ? "Agent login expires soon" : "Agent access token expired",
        detail: `${agent}: ${result.reason}${when}`,
        fix:
          result.state === "expiring"
            ? "Nothing yet; the agent refreshes it on its next call. If turns start failing with auth errors, log in again."
            : "The agent refreshes it over the network on its next call; if that fails, log in again.",
      });
    }
    const expiryState = result.state === "expiring" || result.state === "refreshable";
    for (const warning of result.warnings) {
      if (expiryState && /expire/i.test(warning)) continue; // said above, with the time left
      issues.push({
        severity: "warn",
        code: "W_AGENT_AUTH",
        title: "Agent credentials",
        detail: `${agent}: ${warning}`,
        fix: relogin,
      });
    }
    return { issues, detail: `${result.state}${result.method ? ` (${result.method})` : ""}` };
  },
});
