import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Daemon, replyText, sendMessage, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// Issue 21 item 2: no output size loses an answer. A fake agent prints 10 MB before (or as) its
// answer; the caller still gets the answer (cut with a marker past runtime_config.max_reply_bytes),
// and the daemon's memory stays bounded (its peak RSS, VmHWM, is checked against its RSS at boot).

const e2e = e2eSuite("molecule-e2e-large-output-");

const MAX_REPLY = 8 * 1024 * 1024; // the default runtime_config.max_reply_bytes
const MARKER = `\n\n[… the answer was cut here: it is longer than ${MAX_REPLY} bytes, the runtime's limit (runtime_config.max_reply_bytes)]`;
const SESSION = "3f0b6a3e-0d8e-4c1e-9a51-6a0c1b2d3e4f";
/** How far above its RSS at boot the daemon's peak RSS may go while it reads 10 MB of agent output. */
const RSS_HEADROOM_MB = 160;

/**
 * A fake agent CLI (node): `--version` answers like Claude Code; a turn prints `mode`'s output.
 * tool-output: 10 MB of Claude tool output (one 6 MB tool_result line, then 4 MB in 4 000 lines), then a
 * valid result. big-result: a result line whose `result` is 10 MB. plain: 10 MB of plain text.
 * codex: Codex's JSONL, 10 MB of command output then the answer. gemini: Gemini's stream-json, a
 * 10 MB answer in 1 000 streamed pieces.
 * `LARGE_SCALE=n` in the test's environment multiplies every size by n (the peak RSS should not grow).
 */
const AGENT = String.raw`
const mode = process.env.LARGE_MODE;
const scale = Number(process.env.LARGE_SCALE || 1);
if (process.argv.includes("--version")) { process.stdout.write("2.1.197 (Claude Code)\n"); return; }
process.stdin.resume();
process.stdin.on("end", async () => {
  const out = (s) => new Promise((r) => { if (process.stdout.write(s)) r(); else process.stdout.once("drain", r); });
  const sid = SESSION;
  if (mode === "plain") {
    await out("PLAIN-START ");
    for (let i = 0; i < 100 * scale; i++) await out("p".repeat(100000 - 1) + "\n");
    await out("PLAIN-END\n");
    return;
  }
  if (mode === "codex") {
    await out(JSON.stringify({ type: "thread.started", thread_id: sid }) + "\n" + '{"type":"turn.started"}\n');
    const command = (output) => JSON.stringify({ type: "item.completed", item: { id: "item_0", type: "command_execution", aggregated_output: output } }) + "\n";
    await out(command("x".repeat(6000000 * scale)));
    for (let i = 0; i < 4000 * scale; i++) await out(command("y".repeat(1000)));
    await out(JSON.stringify({ type: "item.completed", item: { id: "item_1", type: "agent_message", text: "the codex answer after 10 MB" } }) + "\n");
    await out('{"type":"turn.completed","usage":{"input_tokens":3,"cached_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":0}}\n');
    return;
  }
  if (mode === "gemini") {
    await out(JSON.stringify({ type: "init", session_id: sid, model: "auto" }) + "\n");
    const piece = JSON.stringify({ type: "message", role: "assistant", content: "GEMINI " + "g".repeat(9993), delta: true }) + "\n";
    for (let i = 0; i < 1000 * scale; i++) await out(piece);
    await out(JSON.stringify({ type: "result", status: "success", stats: { total_tokens: 8, input_tokens: 3, output_tokens: 5 } }) + "\n");
    return;
  }
  await out(JSON.stringify({ type: "system", subtype: "init", session_id: sid }) + "\n");
  if (mode === "tool-output") {
    const tool = (content) => JSON.stringify({ type: "user", message: { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content }] }, session_id: sid }) + "\n";
    await out(tool("x".repeat(6000000 * scale)));
    for (let i = 0; i < 4000 * scale; i++) await out(tool("line " + i + " " + "y".repeat(1000)));
    await out(JSON.stringify({ type: "result", subtype: "success", is_error: false, result: "the answer after 10 MB of tool output", session_id: sid }) + "\n");
    return;
  }
  const big = "RESULT-START " + "\u00e9z".repeat(3333333 * scale) + " RESULT-END";
  await out(JSON.stringify({ type: "result", subtype: "success", is_error: false, result: big, session_id: sid, usage: { input_tokens: 3, output_tokens: 5 } }) + "\n");
});
`;

async function writeAgent(dir: string): Promise<string> {
  const path = join(dir, "large-agent");
  await writeFile(path, `#!/usr/bin/env node\nconst SESSION = ${JSON.stringify(SESSION)};\n(() => {${AGENT}})();\n`, {
    mode: 0o755,
  });
  return path;
}

/** A /proc/<pid>/status field in MB (VmRSS: now, VmHWM: the peak so far). */
function memoryMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return kb / 1024;
}

async function daemonWith(mode: string, runtime = "claude-code"): Promise<Daemon> {
  const command = await writeAgent(e2e.tmp);
  const d = await startDaemon({
    platform: e2e.platform,
    config: { runtime, runtime_config: { command, timeout: 120 } },
    env: {
      LARGE_MODE: mode,
      LARGE_SCALE: process.env.LARGE_SCALE,
      // (the harness binds all interfaces: opt in to no A2A auth, as the platform proxy needs today)
      MOLECULE_A2A_ALLOW_UNAUTHENTICATED: "1",
      CODEX_API_KEY: "fake",
      GEMINI_API_KEY: "fake",
    },
  });
  await d.waitForLog((l) => l.event === "runtime.ready");
  return d;
}

function peakAbove(d: Daemon, bootRss: number): number {
  const pid = d.child.pid ?? 0;
  const peak = memoryMb(pid, "VmHWM");
  console.log(`daemon RSS at boot ${bootRss.toFixed(0)} MB, peak ${peak.toFixed(0)} MB`);
  return peak - bootRss;
}

describe("large agent output (issue 21 item 2)", () => {
  it("10 MB of tool output, then the result: the caller gets the answer, memory stays bounded", async () => {
    const d = await daemonWith("tool-output");
    const boot = memoryMb(d.child.pid ?? 0, "VmRSS");
    const rpc = await sendMessage(d, "read the big file");
    expect(replyText(rpc)).toBe("the answer after 10 MB of tool output");
    expect(peakAbove(d, boot)).toBeLessThan(RSS_HEADROOM_MB);
    expect(d.logs.some((l) => l.event === "turn.reply_cut")).toBe(false);
  });

  it("a 10 MB result: the answer is cut at max_reply_bytes with a marker and one WARN, never dropped", async () => {
    const d = await daemonWith("big-result");
    const boot = memoryMb(d.child.pid ?? 0, "VmRSS");
    const text = replyText(await sendMessage(d, "write a lot"));
    expect(text.startsWith("RESULT-START éz")).toBe(true);
    // (booleans: a failed match would print MBs)
    expect(text.includes("RESULT-END")).toBe(false);
    expect(text.endsWith(MARKER)).toBe(true);
    const bytes = Buffer.byteLength(text);
    expect(bytes).toBeLessThanOrEqual(MAX_REPLY);
    expect(bytes).toBeGreaterThan(MAX_REPLY - 1024);
    expect(peakAbove(d, boot)).toBeLessThan(RSS_HEADROOM_MB);
    const warns = d.logs.filter((l) => l.event === "turn.reply_cut");
    expect(warns).toHaveLength(1);
    expect(warns[0]?.level).toBe("warn");
    expect(JSON.stringify(warns[0])).not.toContain("éz");
  });

  it("the command runtime: 10 MB of plain stdout is cut at max_reply_bytes with the marker", async () => {
    const d = await daemonWith("plain", "command");
    const boot = memoryMb(d.child.pid ?? 0, "VmRSS");
    const text = replyText(await sendMessage(d, "print a lot"));
    expect(text.startsWith("PLAIN-START ppp")).toBe(true);
    expect(text.includes("PLAIN-END")).toBe(false);
    expect(text.endsWith(MARKER)).toBe(true);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_REPLY);
    expect(peakAbove(d, boot)).toBeLessThan(RSS_HEADROOM_MB);
    expect(d.logs.filter((l) => l.event === "turn.reply_cut")).toHaveLength(1);
  });

  it("codex: the answer after 10 MB of command output reaches the caller", async () => {
    const d = await daemonWith("codex", "codex");
    const boot = memoryMb(d.child.pid ?? 0, "VmRSS");
    expect(replyText(await sendMessage(d, "run the build"))).toBe("the codex answer after 10 MB");
    expect(peakAbove(d, boot)).toBeLessThan(RSS_HEADROOM_MB);
  });

  it("gemini-cli: a 10 MB answer in streamed pieces is cut at max_reply_bytes with the marker", async () => {
    const d = await daemonWith("gemini", "gemini-cli");
    const boot = memoryMb(d.child.pid ?? 0, "VmRSS");
    const text = replyText(await sendMessage(d, "write a lot"));
    expect(text.startsWith("GEMINI ggg")).toBe(true);
    expect(text.endsWith(MARKER)).toBe(true);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_REPLY);
    expect(peakAbove(d, boot)).toBeLessThan(RSS_HEADROOM_MB);
    expect(d.logs.filter((l) => l.event === "turn.reply_cut")).toHaveLength(1);
  });
});
