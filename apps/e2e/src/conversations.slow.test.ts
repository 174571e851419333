import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type FakeModelApi, startFakeModelApi } from "@molecule/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  answerLastMarker,
  answerTo,
  marker,
  requestText,
  say,
  sessionOf,
  startClaudeDaemon,
  turnRequests,
} from "./support/a2a.js";
import { projectDir, replyText } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

// Conversations per A2A contextId and the turn order within and across them, with the real
// Claude Code CLI (offline, against the fake model API) driven by the built daemon.

const e2e = e2eSuite("molecule-e2e-contexts-");
const TURN_TIMEOUT = 180_000;

let api: FakeModelApi;
beforeAll(async () => {
  api = await startFakeModelApi({ reply: answerLastMarker });
});
afterAll(() => api.close());

const contextOf = (rpc: { result?: unknown }) => (rpc.result as { contextId?: string } | undefined)?.contextId;

describe("conversations: one agent session per contextId", () => {
  it(
    "A1, B1, A2: A2 sees A1 only, B sees B only; after a restart A3 sees A1 and A2; no contextId is the default context",
    async () => {
      const d = await startClaudeDaemon(e2e.platform, api);
      const a1 = await say(d, `${marker("A1")} Remember PAPAYA.`, "ctx-A");
      expect(replyText(a1)).toBe(answerTo("A1"));
      expect(contextOf(a1)).toBe("ctx-A");
      expect(replyText(await say(d, `${marker("B1")} Remember KIWI.`, "ctx-B"))).toBe(answerTo("B1"));
      expect(replyText(await say(d, `${marker("A2")} Which fruit?`, "ctx-A"))).toBe(answerTo("A2"));

      const a2 = requestText(turnRequests(api, "A2").at(-1));
      expect(a2).toContain(marker("A1"));
      expect(a2).toContain(answerTo("A1")); // the model's own earlier answer
      expect(a2).not.toContain(marker("B1"));
      const b1 = requestText(turnRequests(api, "B1").at(-1));
      expect(b1).not.toContain(marker("A1"));
      expect(await sessionOf(d, "ctx-A")).not.toBe(await sessionOf(d, "ctx-B"));

      // No contextId: the workspace's default context, named in the reply, persisted, its own session.
      const p1 = await say(d, `${marker("P1")} From the platform.`);
      const defaultContext = contextOf(p1);
      expect(defaultContext).toEqual(expect.any(String));
      expect(requestText(turnRequests(api, "P1").at(-1))).not.toContain(marker("A1"));

      // A restart: the same state dir, HOME and workspace.
      d.child.kill("SIGTERM");
      await d.exited;
      const again = await startClaudeDaemon(e2e.platform, api, { restartOf: d });
      expect(replyText(await say(again, `${marker("A3")} And now?`, "ctx-A"))).toBe(answerTo("A3"));
      const a3 = requestText(turnRequests(api, "A3").at(-1));
      expect(a3.indexOf(marker("A1"))).toBeGreaterThanOrEqual(0);
      expect(a3.indexOf(marker("A2"))).toBeGreaterThan(a3.indexOf(marker("A1")));
      expect(a3).not.toContain(marker("B1"));
      expect(a3).not.toContain(marker("P1"));
      // The default context survived the restart too, and still resumes its session.
      const p2 = await say(again, `${marker("P2")} Still there?`);
      expect(contextOf(p2)).toBe(defaultContext);
      expect(requestText(turnRequests(api, "P2").at(-1))).toContain(marker("P1"));
    },
    TURN_TIMEOUT,
  );
});

describe("turn order", () => {
  // e2eSuite stops every daemon after each test: each test starts its own.
  const daemon = () => startClaudeDaemon(e2e.platform, api, { config: { max_concurrent_tasks: 2 } });

  it(
    "two contexts at once with max_concurrent_tasks 2: both model requests are in flight at the same moment",
    async () => {
      const d = await daemon();
      const barrier = api.barrier({
        count: 2,
        match: (r) => ["C1", "C2"].map(answerTo).includes(answerLastMarker(r)),
      });
      const replies = Promise.all([
        say(d, `${marker("C1")} First context.`, "ctx-C1"),
        say(d, `${marker("C2")} Second context.`, "ctx-C2"),
      ]);
      expect(await barrier.met).toBe(true); // both held at once: the turns overlapped
      const [c1, c2] = await replies;
      expect(replyText(c1)).toBe(answerTo("C1"));
      expect(replyText(c2)).toBe(answerTo("C2"));
    },
    TURN_TIMEOUT,
  );

  it(
    "two turns on one context at once run one after another; a third sees both, in order; the transcript is one valid JSONL history",
    async () => {
      const d = await daemon();
      // Hold S1's model request; were S2 let in beside it, the barrier would be met.
      const barrier = api.barrier({
        count: 2,
        match: (r) => ["S1", "S2"].map(answerTo).includes(answerLastMarker(r)),
        timeoutMs: 8_000,
      });
      const s1 = say(d, `${marker("S1")} Remember MANGO.`, "ctx-S");
      await e2e.platform.control.waitFor(() => barrier.arrived === 1, 60_000);
      const s2 = say(d, `${marker("S2")} And remember LIME.`, "ctx-S");
      expect(await barrier.met).toBe(false); // S2 never reached the model while S1 was in flight
      expect(barrier.arrived).toBe(1);
      expect(replyText(await s1)).toBe(answerTo("S1"));
      expect(replyText(await s2)).toBe(answerTo("S2"));
      const second = requestText(turnRequests(api, "S2").at(-1));
      expect(second).toContain(answerTo("S1")); // S2 resumed after S1's real answer

      expect(replyText(await say(d, `${marker("S3")} Which two fruits?`, "ctx-S"))).toBe(answerTo("S3"));
      const third = requestText(turnRequests(api, "S3").at(-1));
      const order = [marker("S1"), answerTo("S1"), marker("S2"), answerTo("S2")].map((t) => third.indexOf(t));
      expect(order.every((at) => at >= 0)).toBe(true);
      expect([...order].sort((x, y) => x - y)).toEqual(order);

      const session = await sessionOf(d, "ctx-S");
      const lines = (await readFile(join(projectDir(d), `${session}.jsonl`), "utf8")).split("\n").filter(Boolean);
      const entries = lines.map((line) => JSON.parse(line) as { sessionId?: string; type?: string });
      expect(entries.filter((e) => e.sessionId !== undefined).every((e) => e.sessionId === session)).toBe(true);
      const text = lines.join("\n");
      const inTranscript = ["S1", "S2", "S3"].map((name) => text.indexOf(marker(name)));
      expect(inTranscript.every((at) => at >= 0)).toBe(true);
      expect([...inTranscript].sort((x, y) => x - y)).toEqual(inTranscript);
    },
    TURN_TIMEOUT,
  );
});
