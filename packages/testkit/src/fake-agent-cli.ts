import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, writeFileAtomic } from "@molecule/internal";
import * as z from "zod";
import { TestkitError } from "./errors.js";

/**
 * How the fake agent CLI behaves on a turn (`--version` and `auth status` always answer):
 * - `ok`: a Claude-Code-shaped success (text, `--output-format json`, or stream-json with `--verbose`), exit 0
 * - `not-logged-in`: `Not logged in · Please run /login` on stdout (an `is_error` result in json modes), exit 1
 * - `missing-session`: with `--resume <id>`, `No conversation found with session ID: <id>` on stderr, exit 1;
 *   without `--resume`, behaves like `ok`
 * - `init-timeout`: `Error: Control request timeout: initialize` on stderr, exit 1
 * - `empty-output-exit-0`: prints nothing, exit 0
 * - `is-error-json`: a result with `is_error: true` (`api_error_status: 500`), exit 0
 * - `hang`: prints nothing and never exits (until killed)
 * - `crash`: half a JSON line on stdout, `Segmentation fault` on stderr, then dies of SIGSEGV
 * - `slow:<ms>`: waits `ms` real milliseconds, then `ok`
 */
export type FakeAgentBehaviour =
  | "ok"
  | "not-logged-in"
  | "missing-session"
  | "init-timeout"
  | "empty-output-exit-0"
  | "is-error-json"
  | "hang"
  | "crash"
  | `slow:${number}`;

export interface FakeAgentCliOptions {
  /** directory the executable (and its call log) is written to; created if missing */
  dir: string;
  /** one behaviour for every turn, or a list: the n-th turn uses the n-th entry, the last one repeats. Default "ok" */
  behaviour?: FakeAgentBehaviour | readonly FakeAgentBehaviour[];
  /** file name of the executable, default "claude" */
  name?: string;
  /** the `result` text of a successful turn, default "ok" */
  reply?: string;
  /** what `--version` prints, default "2.1.197 (Claude Code)" */
  version?: string;
}

/** One recorded invocation of a fake agent CLI. */
export interface FakeAgentCall {
  /** arguments after the executable */
  argv: string[];
  /** `process.cwd()` of the call */
  cwd: string;
  /** the environment, with values of names containing KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL or AUTH masked as "***" */
  env: Record<string, string>;
  /** what was read from stdin (empty when stdin was a TTY or stayed silent for 100 ms) */
  stdin: string;
  /** "turn", "version" or "auth-status" */
  kind: "turn" | "version" | "auth-status";
  /** the behaviour this call used (turns only; "" otherwise) */
  behaviour: string;
  /** the id after `--resume`, or null when it was not passed */
  resume: string | null;
  /** the session id the call reported (turns only), or null */
  sessionId: string | null;
  /** Date.now() at start */
  at: number;
  pid: number;
}

const BEHAVIOUR_RE =
  /^(ok|not-logged-in|missing-session|init-timeout|empty-output-exit-0|is-error-json|hang|crash|slow:\d+)$/;

const CallSchema = z.object({
  argv: z.array(z.string()),
  cwd: z.string(),
  env: z.record(z.string(), z.string()),
  stdin: z.string(),
  kind: z.enum(["turn", "version", "auth-status"]),
  behaviour: z.string(),
  resume: z.string().nullable(),
  sessionId: z.string().nullable(),
  at: z.number(),
  pid: z.number(),
});

// The script runs under any module type (CJS or ESM scope): it only uses dynamic import().
const SCRIPT = String.raw`
(async () => {
  const fs = await import("node:fs");
  const crypto = await import("node:crypto");
  const argv = process.argv.slice(2);
  const flag = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : null;
  };
  const has = (name) => argv.includes(name);
  const kind = has("--version") || has("-v") ? "version" : argv[0] === "auth" && argv[1] === "status" ? "auth-status" : "turn";

  const readStdin = () =>
    new Promise((resolve) => {
      if (process.stdin.isTTY || kind !== "turn") return resolve("");
      let data = "";
      let got = false;
      const done = () => {
        clearTimeout(quiet);
        process.stdin.removeAllListeners();
        process.stdin.pause();
        if (typeof process.stdin.unref === "function") process.stdin.unref();
        resolve(data);
      };
      const quiet = setTimeout(() => { if (!got) done(); }, 100);
      process.stdin.setEncoding("utf8");
      process.stdin.on("data", (chunk) => { got = true; data += chunk; });
      process.stdin.on("end", done);
      process.stdin.on("error", done);
    });
  const stdin = await readStdin();

  let turnIndex = 0;
  try {
    for (const line of fs.readFileSync(CALLS, "utf8").split("\n")) {
      if (line.trim() === "") continue;
      try { if (JSON.parse(line).kind === "turn") turnIndex += 1; } catch {}
    }
  } catch {}
  const list = CONFIG.behaviours;
  const behaviour = kind === "turn" ? list[Math.min(turnIndex, list.length - 1)] : "";
  const resume = flag("--resume") ?? flag("-r");
  const sessionId =
    kind !== "turn" ? null : resume ?? flag("--session-id") ?? crypto.randomUUID();

  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    env[k] = /KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL|AUTH/i.test(k) && v !== "" ? "***" : v;
  }
  fs.appendFileSync(
    CALLS,
    JSON.stringify({ argv, cwd: process.cwd(), env, stdin, kind, behaviour, resume, sessionId, at: Date.now(), pid: process.pid }) + "\n",
  );

  const out = (s) => new Promise((r) => process.stdout.write(s, () => r()));
  const err = (s) => new Promise((r) => process.stderr.write(s, () => r()));
  const exit = async (code) => { process.exitCode = code; };

  if (kind === "version") { await out(CONFIG.version + "\n"); return exit(0); }
  if (kind === "auth-status") {
    const loggedIn = !list.includes("not-logged-in");
    await out(JSON.stringify({ loggedIn, authMethod: loggedIn ? "claude.ai" : "none", apiProvider: "firstParty" }, null, 2) + "\n");
    return exit(loggedIn ? 0 : 1);
  }

  const format = flag("--output-format") ?? "text";
  if (format === "stream-json" && !has("--verbose")) {
    await err("Error: When using --print, --output-format=stream-json requires --verbose\n");
    return exit(1);
  }
  const usage = { input_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 5, server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 }, service_tier: "standard" };
  const result = (fields) => ({
    type: "result", subtype: "success", is_error: false, api_error_status: null, duration_ms: 12, duration_api_ms: 10,
    num_turns: 1, result: "", stop_reason: "end_turn", session_id: sessionId, total_cost_usd: 0.0001, usage,
    modelUsage: {}, permission_denials: [], terminal_reason: "completed", uuid: crypto.randomUUID(), ...fields,
  });
  const init = () => ({
    type: "system", subtype: "init", cwd: process.cwd(), session_id: sessionId, tools: ["Bash", "Read", "Edit", "Write"],
    mcp_servers: [], model: "claude-sonnet-4-5", permissionMode: "default", slash_commands: [], apiKeySource: "none",
    claude_code_version: CONFIG.version.split(" ")[0], output_style: "default", agents: [], skills: [], plugins: [],
    uuid: crypto.randomUUID(),
  });
  const assistant = (text, error) => ({
    type: "assistant",
    message: { id: "msg_fake_" + crypto.randomBytes(6).toString("hex"), type: "message", role: "assistant",
      model: error ? "<synthetic>" : "claude-sonnet-4-5", content: [{ type: "text", text }],
      stop_reason: error ? "stop_sequence" : "end_turn", stop_sequence: null, usage },
    parent_tool_use_id: null, session_id: sessionId, uuid: crypto.randomUUID(), ...(error ? { error } : {}),
  });
  const turn = async (text, opts) => {
    const fields = { result: text, ...(opts.fields ?? {}) };
    if (format === "json") await out(JSON.stringify(result(fields)) + "\n");
    else if (format === "stream-json") {
      await out(JSON.stringify(init()) + "\n");
      await out(JSON.stringify(assistant(text, opts.error)) + "\n");
      await out(JSON.stringify(result(fields)) + "\n");
    } else await out(text + "\n");
    return exit(opts.code);
  };
  const ok = () => turn(CONFIG.reply, { code: 0 });

  if (behaviour === "ok") return ok();
  if (behaviour.startsWith("slow:")) {
    await new Promise((r) => setTimeout(r, Number(behaviour.slice(5))));
    return ok();
  }
  if (behaviour === "not-logged-in") {
    return turn("Not logged in · Please run /login", { code: 1, error: "authentication_failed", fields: { is_error: true, stop_reason: "stop_sequence", usage: { ...usage, input_tokens: 0, output_tokens: 0 }, total_cost_usd: 0 } });
  }
  if (behaviour === "missing-session") {
    if (resume === null) return ok();
    const message = "No conversation found with session ID: " + resume;
    if (format === "stream-json") {
      await out(JSON.stringify(result({ subtype: "error_during_execution", is_error: true, num_turns: 0, stop_reason: null, result: undefined, errors: [message] })) + "\n");
    }
    await err(message + "\n");
    return exit(1);
  }
  if (behaviour === "init-timeout") {
    await err("Error: Control request timeout: initialize\n");
    return exit(1);
  }
  if (behaviour === "empty-output-exit-0") return exit(0);
  if (behaviour === "is-error-json") {
    return turn('API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}', { code: 0, error: "server_error", fields: { is_error: true, api_error_status: 500 } });
  }
  if (behaviour === "hang") {
    setInterval(() => {}, 1 << 30);
    return;
  }
  if (behaviour === "crash") {
    await out('{"type":"result","subtype":"succ\u0000\u00ff');
    await err("Segmentation fault (core dumped)\n");
    process.kill(process.pid, "SIGSEGV");
    setTimeout(() => process.exit(139), 1000);
    return;
  }
  await err("fake agent cli: unknown behaviour " + behaviour + "\n");
  return exit(2);
})().catch((e) => {
  process.stderr.write("fake agent cli failed: " + (e && e.stack ? e.stack : String(e)) + "\n");
  process.exit(70);
});
`;

/**
 * Writes an executable `#!/usr/bin/env node` script (mode 0755) that behaves like the Claude Code CLI
 * on demand, and records every call to `<path>.calls.jsonl`. Resolves with the executable's path.
 */
export async function fakeAgentCli(options: FakeAgentCliOptions): Promise<string> {
  const raw = options.behaviour ?? "ok";
  const behaviours: readonly string[] = typeof raw === "string" ? [raw] : raw;
  if (behaviours.length === 0) {
    throw new TestkitError({ code: "E_TESTKIT_BAD_OPTION", message: "fakeAgentCli: behaviour list is empty" });
  }
  for (const b of behaviours) {
    if (!BEHAVIOUR_RE.test(b)) {
      throw new TestkitError({
        code: "E_TESTKIT_BAD_OPTION",
        message: `fakeAgentCli: unknown behaviour "${b}"; use ok, not-logged-in, missing-session, init-timeout, empty-output-exit-0, is-error-json, hang, crash or slow:<ms>`,
      });
    }
  }
  const name = options.name ?? "claude";
  if (name.includes("/") || name === "" || name.startsWith(".")) {
    throw new TestkitError({
      code: "E_TESTKIT_BAD_OPTION",
      message: `fakeAgentCli: name must be a plain file name, got "${name}"`,
    });
  }
  await mkdir(options.dir, { recursive: true });
  const path = join(options.dir, name);
  const config = { behaviours, reply: options.reply ?? "ok", version: options.version ?? "2.1.197 (Claude Code)" };
  const text = `#!/usr/bin/env node
// Fake agent CLI written by @molecule/testkit fakeAgentCli(). Behaviours: ${behaviours.join(", ")}
const CONFIG = ${JSON.stringify(config)};
const CALLS = ${JSON.stringify(callsFile(path))};
${SCRIPT}`;
  // A CLI rewritten while a test spawns it is the old script or the new one, never half of one.
  await writeFileAtomic(path, text, { mode: 0o755, dirMode: false });
  return path;
}

function callsFile(cliPath: string): string {
  return `${cliPath}.calls.jsonl`;
}

/** Every call recorded by the fake CLI at `cliPath` (the path `fakeAgentCli` returned), oldest first; [] before the first. */
export async function readFakeAgentCalls(cliPath: string): Promise<FakeAgentCall[]> {
  let text: string;
  try {
    text = await readFile(callsFile(cliPath), "utf8");
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return [];
    throw error;
  }
  const calls: FakeAgentCall[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const parsed = CallSchema.safeParse(JSON.parse(line));
    if (parsed.success) calls.push(parsed.data);
  }
  return calls;
}
