import { type FakeModelApi, startFakeModelApi, startTestPlatform, type TestPlatform } from "@molecule/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Daemon,
  getJson,
  processesIn,
  replyText,
  sendMessage,
  startDaemon,
  stopAllDaemons,
} from "./support/daemon.js";
import { view } from "./support/platform-view.js";

// The real Claude Code CLI (pinned, installed with the repo: node_modules/.bin first on PATH),
// driven by the built daemon, offline against the fake model API. Never skipped: CI runs it.
// What every agent must do (answer, resume, two contexts, a lost transcript, empty output, a 401,
// an unreachable API) is the shared suite, agents.slow.test.ts; this file holds what is Claude's own.

const REPLY = "Hello from the fake model API, via the daemon.";
const TURN_TIMEOUT = 120_000;

let platform: TestPlatform;
let api: FakeModelApi;

beforeAll(async () => {
  platform = await startTestPlatform();
  api = await startFakeModelApi({ reply: REPLY });
});
afterAll(async () => {
  await stopAllDaemons();
  await api.close();
  await platform.close();
});

describe("the real Claude Code CLI through the daemon, against the fake model API", () => {
  let d: Daemon;
  let v: ReturnType<typeof view>;

  beforeAll(async () => {
    d = await startDaemon({
      platform,
      config: { runtime_config: { timeout: 90 } }, // runtime claude-code, `claude` from PATH
      env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: "test-key" },
    });
    await d.waitForLog((l) => l.event === "runtime.ready", 30_000);
    v = view(platform, d.id);
    await v.waitStatus("online");
  }, TURN_TIMEOUT);

  it(
    "the model API answers 529 once, then ok: the turn succeeds",
    async () => {
      api.setMode("fail-first:1:529");
      const before = api.messages().length;
      const rpc = await sendMessage(d, "Overloaded once.");
      expect(replyText(rpc)).toBe(REPLY);
      const statuses = api
        .messages()
        .slice(before)
        .map((m) => m.status);
      expect(statuses).toContain(529);
      expect(statuses.at(-1)).toBe(200);
      // The CLI's own retry is reported as progress in the daemon's log.
      expect(d.logs.some((l) => l.event === "turn.progress" && l.note === "model API retry 1")).toBe(true);
      await v.waitBeat((b) => b.active_tasks === 0, v.beats().length);
      expect(v.workspace()?.errorRate).toBe(0);
      expect(v.statusTrail()).not.toContain("degraded");
    },
    TURN_TIMEOUT,
  );
});

describe("the real Claude Code CLI, logged out", () => {
  it(
    "readiness drops, the reply is the safe auth error, the platform sees the failed turn",
    async () => {
      const before = api.messages().length;
      const d = await startDaemon({
        platform,
        config: { runtime_config: { timeout: 90 } },
        // No key, an empty HOME; the token-free gate is off so that it boots at all.
        env: { ANTHROPIC_API_KEY: undefined, ANTHROPIC_BASE_URL: api.url, MOLECULE_PREFLIGHT_CHECK_AUTH: "false" },
      });
      await d.waitForLog((l) => l.event === "runtime.ready", 30_000);
      const v = view(platform, d.id);
      await v.waitStatus("online");
      expect((await getJson(d, "/readyz")).status).toBe(200);

      const rpc = await sendMessage(d, "Anyone home?");
      expect(rpc.result).toBeUndefined();
      expect(rpc.error?.code).toBe(-32000);
      expect(rpc.error?.data?.outcome).toBe("auth");
      expect(rpc.error?.message).toBe("agent is not logged in — re-login required");
      expect(JSON.stringify(rpc)).not.toMatch(/Please run \/login/); // never the CLI's raw output

      const ready = await getJson<{ reasons: string[] }>(d, "/readyz");
      expect(ready.status).toBe(503);
      expect(ready.json.reasons.join("\n")).toContain("E_AGENT_AUTH_OBSERVED");
      await v.waitBeat((b) => b.error_rate === 1 && b.active_tasks === 0);
      await v.waitStatus("degraded");
      expect(v.workspace()?.sampleError).toContain("not logged in");
      expect(api.messages().length).toBe(before); // logged out: the CLI never called the model
    },
    TURN_TIMEOUT,
  );
});

describe("the real Claude Code CLI, model API hangs", () => {
  it(
    "the turn times out, the CLI's whole process group is gone, and the next turn works",
    async () => {
      const d = await startDaemon({
        platform,
        config: { runtime_config: { timeout: 5 } },
        env: { ANTHROPIC_BASE_URL: api.url, ANTHROPIC_API_KEY: "test-key" },
      });
      await d.waitForLog((l) => l.event === "runtime.ready", 30_000);
      const v = view(platform, d.id);
      api.setMode("hang");
      const pending = sendMessage(d, "Turn that never ends.");
      await platform.control.waitFor(() => processesIn(d.workspaceDir).length > 0, 30_000);
      const rpc = await pending;
      expect(rpc.error?.data?.outcome).toBe("timeout");
      expect(rpc.error?.message).toBe("the agent did not finish within 5 s");
      expect(processesIn(d.workspaceDir)).toEqual([]);
      await v.waitBeat((b) => b.error_rate === 1 && b.active_tasks === 0);

      api.setMode("ok");
      expect(replyText(await sendMessage(d, "And now?"))).toBe(REPLY);
      expect(processesIn(d.workspaceDir)).toEqual([]);
    },
    TURN_TIMEOUT,
  );
});
