import { createServer } from "node:net";
import { startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Daemon,
  getJson,
  processesIn,
  type RpcResponse,
  replyText,
  sendMessage,
  startDaemon,
  stopAllDaemons,
} from "./support/daemon.js";
import { view } from "./support/platform-view.js";
import { type ModelFake, REAL_AGENTS, type RealAgent } from "./support/real-agents.js";

// One suite, run once per agent the registry names (support/real-agents.ts): the real CLI, driven
// by the built daemon, offline against the testkit fake of its model API. Never skipped: CI runs it
// (Codex and Gemini CLI are installed into the cache on first use).

const REPLY = "Hello from the fake model API, via the daemon.";
const TURN_MS = 120_000;

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address !== null ? address.port : 0;
}

function outcome(rpc: RpcResponse): unknown {
  return rpc.error?.data?.outcome;
}

let platform: TestPlatform;
beforeAll(async () => {
  platform = await startTestPlatform();
});
afterAll(async () => {
  await stopAllDaemons();
  await platform.close();
});

function agentConfig(agent: RealAgent, bin: string, baseUrl: string, timeout: number) {
  return { runtime: agent.id, runtime_config: { command: bin, base_url: baseUrl, timeout } };
}

describe.each(REAL_AGENTS.map((agent) => [agent.id, agent] as const))(
  "%s, the real CLI through the daemon",
  (_, agent) => {
    let fake: ModelFake;
    let bin: string;
    let d: Daemon;
    let v: ReturnType<typeof view>;
    /** The conversation requests that carried `marker`, oldest first. */
    const carrying = (marker: string) => fake.conversations().filter((texts) => texts.some((t) => t.includes(marker)));
    const lastWith = (marker: string) => carrying(marker).at(-1) ?? [];
    const mentions = (texts: string[], marker: string) => texts.some((t) => t.includes(marker));

    beforeAll(async () => {
      bin = await agent.bin();
      fake = await agent.startFake(REPLY);
      d = await startDaemon({
        platform,
        config: agentConfig(agent, bin, fake.url, 90),
        env: { [agent.keyEnv]: "test-key" },
      });
      await d.waitForLog((l) => l.event === "runtime.ready", 60_000);
      v = view(platform, d.id);
      await v.waitStatus("online");
    }, 300_000);
    afterAll(async () => {
      await fake?.close();
    });

    it(
      "a turn answers, and the agent keeps a transcript for it",
      async () => {
        expect(replyText(await sendMessage(d, "Turn one: remember the word PAPAYA."))).toBe(REPLY);
        expect(carrying("PAPAYA").length).toBeGreaterThanOrEqual(1);
        expect(await agent.transcripts(d)).toHaveLength(1);
      },
      TURN_MS,
    );

    it(
      "the second turn on the same context resumes: the model request carries turn one",
      async () => {
        expect(replyText(await sendMessage(d, "Turn two: which word did I ask you to remember?"))).toBe(REPLY);
        const second = lastWith("Turn two");
        expect(mentions(second, "PAPAYA")).toBe(true);
        expect(mentions(second, REPLY)).toBe(true); // and the model's first answer
        expect(await agent.transcripts(d)).toHaveLength(1);
      },
      TURN_MS,
    );

    it(
      "two contexts keep two conversations",
      async () => {
        expect(replyText(await sendMessage(d, "Context B: remember MANGO.", { contextId: "ctx-b" }))).toBe(REPLY);
        expect(mentions(lastWith("MANGO"), "PAPAYA")).toBe(false);
        expect(replyText(await sendMessage(d, "Turn three, default context: still there?"))).toBe(REPLY);
        const third = lastWith("Turn three");
        expect(mentions(third, "PAPAYA")).toBe(true);
        expect(mentions(third, "MANGO")).toBe(false);
        expect(replyText(await sendMessage(d, "Context B again: which fruit?", { contextId: "ctx-b" }))).toBe(REPLY);
        const b2 = lastWith("Context B again");
        expect([mentions(b2, "MANGO"), mentions(b2, "PAPAYA")]).toEqual([true, false]);
      },
      TURN_MS,
    );

    it(
      "a deleted transcript costs the caller nothing: the next turn succeeds in a new session",
      async () => {
        await agent.deleteTranscripts(d);
        const rpc = await sendMessage(d, "Turn four: KIWI. Are you there?");
        expect(rpc.error).toBeUndefined();
        expect(replyText(rpc)).toBe(REPLY);
        expect(mentions(lastWith("KIWI"), "PAPAYA")).toBe(false);
        expect(d.logs.some((l) => l.event === "session.dropped" || l.event === "session.dropped_after_failure")).toBe(
          true,
        );
        expect(d.logs.filter((l) => l.event === "turn.finished").every((l) => l.outcome === "ok")).toBe(true);
        // Zero failed turns, as the platform saw it.
        await v.waitBeat((b) => b.active_tasks === 0, v.beats().length);
        expect(v.beats().every((b) => b.body.error_rate === 0)).toBe(true);
        expect(v.statusTrail()).not.toContain("degraded");
      },
      TURN_MS,
    );

    it(
      "empty output is a failed turn, never an empty success",
      async () => {
        fake.setMode("empty");
        try {
          const rpc = await sendMessage(d, "Turn five: say nothing.");
          expect(rpc.result).toBeUndefined();
          expect(outcome(rpc)).toBe("agent-error");
        } finally {
          fake.setMode("ok");
        }
      },
      TURN_MS,
    );

    it(
      "a model 401 becomes a safe auth error and readiness goes down",
      async () => {
        fake.setMode("status:401");
        try {
          expect((await getJson(d, "/readyz")).status).toBe(200);
          const rpc = await sendMessage(d, "Turn six: bad key.");
          expect(outcome(rpc)).toBe("auth");
          expect(rpc.error?.message).toBe("agent is not logged in — re-login required");
          expect(JSON.stringify(rpc)).not.toContain("test-key");
          expect((await getJson(d, "/readyz")).status).toBe(503);
        } finally {
          fake.setMode("ok");
        }
        // The next good turn clears it.
        expect(replyText(await sendMessage(d, "Turn seven: fixed?"))).toBe(REPLY);
        expect((await getJson(d, "/readyz")).status).toBe(200);
      },
      TURN_MS,
    );

    it(
      "the model API unreachable: the turn ends within the timeout and no process of the agent is left",
      async () => {
        const timeout = 15;
        const down = await startDaemon({
          platform,
          config: agentConfig(
            agent,
            bin,
            `http://127.0.0.1:${await closedPort()}${fake.url.endsWith("/v1") ? "/v1" : ""}`,
            timeout,
          ),
          env: { [agent.keyEnv]: "test-key" },
        });
        await down.waitForLog((l) => l.event === "runtime.ready", 60_000);
        const started = Date.now();
        const rpc = await sendMessage(down, "Anyone out there?");
        const tookMs = Date.now() - started;
        expect(rpc.result).toBeUndefined();
        expect(["timeout", "rate-limited", "agent-error", "crash"]).toContain(outcome(rpc));
        expect(tookMs).toBeLessThan((timeout + 10) * 1000); // the deadline, plus the kill grace
        expect(processesIn(down.workspaceDir)).toEqual([]);
      },
      TURN_MS,
    );
  },
);
