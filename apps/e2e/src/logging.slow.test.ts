// The daemon's log is written asynchronously (pino's asynchronous destination): nothing may be lost
// when it stops right after a turn, on SIGTERM or on a fatal error. A SIGKILL can lose anything
// still buffered (no code runs), so it is not a case here.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fakeAgentCli } from "@molecule/testkit";
import { describe, expect, it } from "vitest";
import { replyText, sendMessage, startDaemon } from "./support/daemon.js";
import { e2eSuite } from "./support/suite.js";

const e2e = e2eSuite("molecule-e2e-logging-");

// Loaded into the daemon with --require: SIGUSR2 raises a fatal error of the kind FATAL names.
const INJECT = `
process.on("SIGUSR2", () => {
  if (process.env.FATAL === "rejection") void Promise.reject(new Error("injected rejection"));
  else throw new Error("injected exception");
});
`;

async function daemonAfterOneTurn(env: Record<string, string> = {}) {
  const cli = await fakeAgentCli({ dir: e2e.tmp, behaviour: "ok", reply: "done" });
  const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: cli } }, env });
  await d.waitForLog((l) => l.event === "runtime.ready");
  expect(replyText(await sendMessage(d, "hello"))).toContain("done");
  return d;
}

const finishedTurns = (logs: Array<Record<string, unknown>>) =>
  logs.filter((l) => l.event === "turn.finished" && l.outcome === "ok");

describe("asynchronous logging loses nothing", () => {
  it("SIGTERM right after a turn: its turn.finished line and the shutdown's lines are all written", async () => {
    const d = await daemonAfterOneTurn();
    d.child.kill("SIGTERM");
    expect(await d.exited).toEqual({ code: 0, signal: null });
    expect(finishedTurns(d.logs)).toHaveLength(1);
    const events = d.logs.map((l) => l.event);
    expect(events.indexOf("runtime.stopping")).toBeGreaterThan(events.indexOf("turn.finished"));
    expect(events.at(-1)).toBe("runtime.stopped");
  });

  for (const kind of ["exception", "rejection"] as const) {
    it(`a fatal error (an uncaught ${kind}) right after a turn: exit 1, the stack on stderr, the turn's line written`, async () => {
      const inject = join(e2e.tmp, "inject-fatal.cjs");
      await writeFile(inject, INJECT);
      const d = await daemonAfterOneTurn({ NODE_OPTIONS: `--require ${inject}`, FATAL: kind });
      d.child.kill("SIGUSR2");
      expect(await d.exited).toEqual({ code: 1, signal: null });
      expect(d.stderr()).toContain(`injected ${kind}`);
      expect(d.stderr()).toContain(kind === "exception" ? "fatal uncaughtException" : "fatal unhandledRejection");
      expect(finishedTurns(d.logs)).toHaveLength(1);
      expect(d.logs.filter((l) => l.event === "non-json")).toEqual([]); // no line cut in half
    });
  }
});
