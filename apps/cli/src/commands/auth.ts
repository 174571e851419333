import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { errnoCode, looseTokenMode } from "@molecule/internal";
import type { Io } from "../io.js";
import { colorEnabled, createStyle } from "../style.js";

export interface AuthCheckOptions {
  config?: string;
  agent?: string;
  json?: boolean;
}

/** The platform token file, described without its content. */
export interface TokenFileState {
  file: string;
  state: "absent" | "ok" | "loose-mode" | "empty" | "unreadable";
  mode?: string;
  detail: string;
}

async function tokenFileState(file: string): Promise<TokenFileState> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch (error) {
    const code = errnoCode(error) ?? "unknown error";
    if (code === "ENOENT")
      return { file, state: "absent", detail: "absent (the platform issues one at the first register)" };
    return { file, state: "unreadable", detail: `unreadable (${code})` };
  }
  const mode = `0${(info.mode & 0o777).toString(8)}`;
  if (!info.isFile()) return { file, state: "unreadable", mode, detail: "not a regular file" };
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return { file, state: "unreadable", mode, detail: `unreadable (${errnoCode(error)})` };
  }
  if (text.trim() === "")
    return { file, state: "empty", mode, detail: `empty (mode ${mode}); remove it so the platform issues a new one` };
  // undefined for a mounted Secret (the kubelet's read-only 0440: nothing to fix).
  const loose = await looseTokenMode(file, info.mode);
  if (loose) return { file, state: "loose-mode", mode, detail: `present, ${loose.problem}; run ${loose.fix}` };
  return { file, state: "ok", mode, detail: `present, mode ${mode}` };
}

/**
 * `molecule auth check`: the agent's credentials for the config's runtime (token-free, network-free,
 * `checkAgentAuth`) and the state of the platform token file. Never prints a token.
 * Exit 1 when the agent is not logged in or the token file is unusable.
 */
export async function authCheckCommand(options: AuthCheckOptions, io: Io): Promise<number> {
  const [{ resolveSettings, loadConfig, ConfigError }, { checkAgentAuth, AuthError, DEFAULT_AGENT }] =
    await Promise.all([import("@molecule/config"), import("@molecule/auth")]);
  const env: Record<string, string | undefined> = { ...io.env };
  if (options.config !== undefined) env.WORKSPACE_CONFIG_PATH = resolve(options.config);
  const { settings } = resolveSettings(env);

  let agent = options.agent;
  let configProblem: string | undefined;
  let baseUrl: string | undefined;
  try {
    const { config } = await loadConfig(settings.configPath, { env });
    agent ??= config.runtime;
    // The daemon runs the agent against this base URL, which changes which credential counts.
    if (agent === config.runtime) baseUrl = config.runtime_config.base_url;
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    if (agent === undefined) configProblem = error.message;
    agent ??= DEFAULT_AGENT;
  }

  let result: { ok: boolean; state: string; reason: string; warnings: string[]; method?: string; expiresAt?: number };
  try {
    // The agent's home as the daemon places it: its own env var, else <state dir>/agents/<id>.
    result = await checkAgentAuth({ agent, env, stateDir: settings.stateDir, ...(baseUrl ? { baseUrl } : {}) });
  } catch (error) {
    if (!AuthError.isInstance(error) || error.code !== "E_AUTH_UNKNOWN_AGENT") throw error;
    result = {
      ok: true,
      state: "unchecked",
      reason: `no credential probe for agent "${agent}"; not checked`,
      warnings: [],
    };
  }
  const token = await tokenFileState(join(settings.configsDir, ".auth_token"));
  const tokenOk = token.state === "absent" || token.state === "ok" || token.state === "loose-mode";
  const ok = result.ok && tokenOk;

  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({ ok, agent: { name: agent, ...result }, platformToken: token, ...(configProblem ? { configProblem } : {}) }, null, 2)}\n`,
    );
    return ok ? 0 : 1;
  }
  const style = createStyle(colorEnabled(io.stdout, io.env));
  const mark = (good: boolean, warn = false) =>
    good ? (warn ? style.yellow("[WARN]") : style.green("[ OK ]")) : style.red("[FAIL]");
  const lines: string[] = [];
  if (configProblem)
    lines.push(`${style.yellow("[WARN]")} config.yaml not loaded (checking ${agent}): ${configProblem.split("\n")[0]}`);
  const expires = result.expiresAt ? ` (expires ${new Date(result.expiresAt).toISOString()})` : "";
  lines.push(
    `${mark(result.ok, result.state === "unchecked")} Agent auth (${agent}): ${result.state}${result.method ? ` via ${result.method}` : ""}${expires} — ${result.reason}`,
  );
  for (const warning of result.warnings) lines.push(`       ${style.yellow("warning:")} ${warning}`);
  lines.push(`${mark(tokenOk, token.state === "loose-mode")} Platform token ${token.file}: ${token.detail}`);
  io.stdout.write(`${lines.join("\n")}\n`);
  return ok ? 0 : 1;
}
