import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * What a scripted agent does on a turn (`--version` always prints a version and exits 0,
 * so preflight's binary check passes). For behaviours `fakeAgentCli` does not have.
 */
export interface ScriptedAgentSpec {
  /** Printed on stdout (a turn). */
  stdout?: string;
  /** Printed on stderr (a turn). */
  stderr?: string;
  /** Exit code (default 1). */
  code?: number;
  /** Never exit (SIGTERM ends it). */
  hang?: boolean;
  /** Never exit; ignore SIGTERM (only SIGKILL ends it). */
  hangIgnoringTerm?: boolean;
  /** Also start a grandchild in the same process group that ignores SIGTERM and never exits. */
  grandchild?: boolean;
}

export interface ScriptedCall {
  pid: number;
  argv: string[];
  stdin: string;
  /** The grandchild's pid, when one was started. */
  grandchild?: number;
}

const SCRIPT = String.raw`
(async () => {
  const fs = await import("node:fs");
  const cp = await import("node:child_process");
  const argv = process.argv.slice(2);
  if (argv.includes("--version")) { process.stdout.write("2.1.197 (Claude Code)\n"); return; }
  let stdin = "";
  process.stdin.setEncoding("utf8");
  for await (const chunk of process.stdin) stdin += chunk;
  const call = { pid: process.pid, argv, stdin };
  if (SPEC.grandchild) {
    const child = cp.spawn(process.execPath, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1 << 30);"], { stdio: "ignore" });
    call.grandchild = child.pid;
  }
  fs.appendFileSync(CALLS, JSON.stringify(call) + "\n");
  if (SPEC.hang) {
    setInterval(() => {}, 1 << 30);
    return;
  }
  if (SPEC.hangIgnoringTerm) {
    process.on("SIGTERM", () => {});
    setInterval(() => {}, 1 << 30);
    return;
  }
  if (SPEC.stdout) await new Promise((r) => process.stdout.write(SPEC.stdout, r));
  if (SPEC.stderr) await new Promise((r) => process.stderr.write(SPEC.stderr, r));
  process.exitCode = SPEC.code ?? 1;
})();
`;

/** Writes an executable node script `<dir>/<name>` behaving as `spec`; calls go to `<path>.calls.jsonl`. */
export async function scriptedAgent(dir: string, name: string, spec: ScriptedAgentSpec): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  const body = `#!/usr/bin/env node\nconst SPEC = ${JSON.stringify(spec)};\nconst CALLS = ${JSON.stringify(`${path}.calls.jsonl`)};\n${SCRIPT}`;
  await writeFile(path, body, { mode: 0o755 });
  await chmod(path, 0o755);
  return path;
}

/** Every turn a scripted agent ran, oldest first. */
export async function readScriptedCalls(path: string): Promise<ScriptedCall[]> {
  let text: string;
  try {
    text = await readFile(`${path}.calls.jsonl`, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as ScriptedCall);
}
