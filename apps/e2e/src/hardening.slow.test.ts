import { chmod, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { waitFor } from "@molecule/test-support";
import { fakeAgentCli, readFakeAgentCalls } from "@molecule/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { type Daemon, getJson, killPids, onCleanup, replyText, sendMessage, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// Issue 11: secrets, slow clients, and the smaller faults — each against the built daemon.
const e2e = e2eSuite("molecule-e2e-hardening-");
afterEach(async () => {
  await e2e.platform.control.up().catch(() => undefined);
});

async function fake(behaviour: Parameters<typeof fakeAgentCli>[0]["behaviour"] = "ok"): Promise<string> {
  const cli = await fakeAgentCli({ dir: e2e.tmp, behaviour, reply: "done" });
  onCleanup(async () => killPids((await readFakeAgentCalls(cli)).map((c) => c.pid)));
  return cli;
}

const ready = (d: Daemon) => d.waitForLog((l) => l.event === "runtime.ready");
const everything = (d: Daemon) => `${d.logs.map((l) => JSON.stringify(l)).join("\n")}\n${d.stderr()}`;

describe("5: secrets never reach logs, errors or turn details; replies never carry the workspace's own credentials", () => {
  const OWN_KEY = `sk-ant-api03-${"K".repeat(40)}`;
  const EXAMPLE_KEY = `sk-ant-api03-${"E".repeat(40)}`;

  it("a leaky agent (prints the platform token and keys) and a platform that echoes the token", async () => {
    // A plain-text agent that reads the platform token file (it can) and prints it with the keys,
    // on stdout (the reply) and stderr (the turn detail); "fail" makes the turn fail.
    const agent = join(e2e.tmp, "leaky-agent");
    await writeFile(
      agent,
      [
        "#!/bin/sh",
        '[ "$1" = "--version" ] && { echo "1.0.0"; exit 0; }',
        "read -r what",
        'token=$(cat "$WORKSPACE_CONFIG_PATH/.auth_token")',
        `line="token=$token own=$ANTHROPIC_API_KEY example=${EXAMPLE_KEY} auth=Bearer $token"`,
        'echo "$line" >&2',
        'echo "$line"',
        '[ "$what" = "fail" ] && exit 1',
        "exit 0",
        "",
      ].join("\n"),
    );
    await chmod(agent, 0o755);
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime: "command", runtime_config: { command: agent } },
      env: { ANTHROPIC_API_KEY: OWN_KEY },
    });
    await ready(d);
    const token = e2e.platform.control.token(d.id);
    expect(token).toBeTruthy();
    e2e.platform.control.failNext("heartbeat", {
      status: 500,
      body: { error: `rejected header Authorization: Bearer ${token} (token ${token})` },
    });
    await d.waitForLog((l) => l.event === "heartbeat.failed");

    const reply = replyText(await sendMessage(d, "ok"));
    // The workspace's own credentials are masked in the reply; a key-shaped string that is not ours stays.
    expect(reply).not.toContain(String(token));
    expect(reply).not.toContain(OWN_KEY);
    expect(reply).toContain(`example=${EXAMPLE_KEY}`);
    expect(reply).toContain("token=[redacted]");

    const failed = await sendMessage(d, "fail");
    expect(failed.error?.data?.outcome).toBe("agent-error");
    const finished = await d.waitForLog((l) => l.event === "turn.finished" && l.outcome === "agent-error");
    expect(String(finished.detail)).toContain("[redacted]");

    // Nothing secret in any log line or on stderr: not the token, not our key, not the key-shaped text.
    const all = everything(d);
    expect(all).not.toContain(String(token));
    expect(all).not.toContain(OWN_KEY);
    expect(all).not.toContain(EXAMPLE_KEY);
    expect(all).toContain("[redacted]");
  });
});

describe("6: slow and absent request bodies cannot hold the daemon", () => {
  const http = { headersTimeoutMs: 500, requestTimeoutMs: 1_000, keepAliveTimeoutMs: 500 };
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
  });

  /** A raw socket to the daemon; resolves with what it answered once it closed the connection. */
  function raw(d: Daemon, talk: (s: Socket) => void): Promise<string> {
    return new Promise((resolve) => {
      const s = connect(d.port(), "127.0.0.1");
      sockets.push(s);
      let text = "";
      s.setEncoding("utf8");
      s.on("data", (chunk: string) => {
        text += chunk;
      });
      s.on("error", () => undefined);
      s.on("close", () => resolve(text));
      talk(s);
    });
  }

  it("an idle socket and a trickled body are dropped (408); a turn longer than every limit still completes", async () => {
    const cli = await fake("slow:2500");
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime_config: { command: cli } },
      runtimeOptions: { http },
    });
    await ready(d);
    const [idle, trickled, reply] = await Promise.all([
      raw(d, () => undefined),
      raw(d, (s) => {
        s.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{");
        const timer = setInterval(() => s.writable && s.write(" "), 100);
        s.on("close", () => clearInterval(timer));
      }),
      sendMessage(d, "a turn longer than every limit"),
    ]);
    // Before: requestTimeout 0 and a 66 s headers limit — both sockets were held, 1,050 of them exhausted the fds.
    expect(idle).toContain("408");
    expect(trickled).toContain("408");
    expect(replyText(reply)).toBe("done");
    expect(d.logs.filter((l) => l.level === "error")).toEqual([]);
  });
});

describe("8: the smaller ones", () => {
  it("after SIGTERM a new request is told the workspace is shutting down, not that its queue is full", async () => {
    const cli = await fake(["slow:3000", "ok"]);
    const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: cli } }, grace: 10 });
    await ready(d);
    const inFlight = sendMessage(d, "a slow turn");
    await waitFor(async () => (await readFakeAgentCalls(cli)).some((c) => c.kind === "turn"), 10_000);
    d.child.kill("SIGTERM");
    await d.waitForLog((l) => l.event === "runtime.stopping");
    const refused = await sendMessage(d, "one more");
    expect(refused.error?.message).toContain("shutting down");
    expect(refused.error?.message).not.toContain("queue is full");
    expect(replyText(await inFlight)).toBe("done");
    expect((await d.exited).code).toBe(0);
  });

  it("a client that hangs up mid-request is not an ERROR", async () => {
    const cli = await fake();
    const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: cli } } });
    await ready(d);
    await new Promise<void>((resolve) => {
      const s = connect(d.port(), "127.0.0.1", () => {
        s.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", () => setTimeout(() => s.destroy(), 100));
      });
      s.on("error", () => undefined);
      s.on("close", () => resolve());
    });
    await d.waitForLog((l) => l.event === "http.client_aborted");
    expect(d.logs.filter((l) => l.level === "error")).toEqual([]);
  });

  it("/readyz is not ready, and says why, while the platform answers every beat 401", async () => {
    const cli = await fake();
    const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: cli } } });
    await ready(d);
    expect((await getJson(d, "/readyz")).status).toBe(200);
    e2e.platform.control.rotateToken(d.id); // revoked: the file keeps the old one — 401 forever
    const notReady = await waitFor(async () => {
      const probe = await getJson<{ reasons?: string[] }>(d, "/readyz");
      return probe.status === 503 ? probe.json : undefined;
    }, 15_000);
    expect(notReady.reasons?.join("\n")).toMatch(/the platform rejects our token \(\d+ heartbeats answered 401\)/);
  });

  it("heartbeat.ttl_seconds sets the outage after which the daemon re-registers (not a fixed 180 s)", async () => {
    const cli = await fake();
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime_config: { command: cli }, heartbeat: { ttl_seconds: 2, interval_seconds: 0.3 } },
    });
    await ready(d);
    await e2e.platform.control.down();
    const first = Date.parse(String((await d.waitForLog((l) => l.event === "heartbeat.failed")).time));
    // An outage longer than the 2 s TTL: failed beats keep coming until one is 2.5 s after the first.
    await d.waitForLog((l) => l.event === "heartbeat.failed" && Date.parse(String(l.time)) - first > 2_500, 20_000);
    await e2e.platform.control.up();
    const recovered = await d.waitForLog((l) => l.event === "heartbeat.outage_recovered", 20_000);
    expect(Number(recovered.downMs)).toBeGreaterThan(2_000);
    await waitFor(() => d.logs.filter((l) => l.event === "register.ok").length === 2, 20_000);
    expect(e2e.platform.control.registrations(d.id).filter((r) => r.status === 200)).toHaveLength(2);
  });

  it("a misspelt config key is reported in the daemon's preflight output", async () => {
    const cli = await fake();
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime_config: { command: cli }, promt_files: [] },
    });
    const warning = await d.waitForLog((l) => l.event === "preflight.warning" && l.code === "W_CONFIG_UNKNOWN_KEY");
    expect(warning.field).toBe("promt_files");
    expect(String(warning.msg)).toContain("prompt_files");
  });
});
