import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { FakeAgentBehaviour } from "@molecule/testkit";
import { request } from "undici";
import type { SendResult } from "../send.js";
import type { Reporter } from "./report.js";
import { type DevSetup, earlierTurns } from "./setup.js";

export interface ScenarioContext {
  setup: DevSetup;
  report: Reporter;
}

export interface Scenario {
  readonly name: string;
  /** one line: the silent failure it shows */
  readonly title: string;
  /** resolves true when the failure was caught and shown */
  run(ctx: ScenarioContext): Promise<boolean>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function outcomeOf(result: SendResult): string | undefined {
  if (result.ok) return "ok";
  const data = result.data;
  return typeof data === "object" && data !== null && "outcome" in data && typeof data.outcome === "string"
    ? data.outcome
    : undefined;
}

export function show(report: Reporter, result: SendResult): void {
  if (result.ok) report.reply(result.text);
  else report.error(`JSON-RPC ${result.code}: ${result.message} (outcome: ${outcomeOf(result) ?? "?"})`);
}

export async function probe(setup: DevSetup, path: "/readyz" | "/livez"): Promise<{ status: number; body: string }> {
  const port = setup.runtime?.port ?? 0;
  const res = await request(`http://127.0.0.1:${port}${path}`, { headersTimeout: 5_000 });
  return { status: res.statusCode, body: await res.body.text() };
}

async function transcripts(home: string): Promise<string[]> {
  const projects = join(home, ".claude", "projects");
  try {
    const entries = await readdir(projects, { recursive: true });
    return entries.filter((e) => e.endsWith(".jsonl")).map((e) => join(projects, e));
  } catch {
    return [];
  }
}

async function agentCommand(setup: DevSetup, behaviour: FakeAgentBehaviour | readonly FakeAgentBehaviour[]) {
  return setup.testkit.fakeAgentCli({ dir: join(setup.dir, "agent"), behaviour, reply: "Hello from a healthy agent." });
}

const staleSession: Scenario = {
  name: "stale-session",
  title: "the agent's session transcript disappears between two messages (a container restart)",
  async run({ setup, report }) {
    await setup.startDaemon();
    const first = "Please remember the word teal.";
    report.step(`message 1: "${first}"`);
    const one = await setup.send(first);
    show(report, one);
    const files = await transcripts(setup.home);
    report.step(
      `deleting the agent's transcript${files.length === 1 ? "" : "s"}: ${files.join(", ") || "(none found)"}`,
    );
    await rm(join(setup.home, ".claude", "projects"), { recursive: true, force: true });
    const second = "Which word did I ask you to remember?";
    report.step(`message 2: "${second}" (the daemon still holds the old session id)`);
    const two = await setup.send(second);
    show(report, two);
    const request2 = [...(setup.modelApi?.messages() ?? [])]
      .reverse()
      .find((r) => JSON.stringify(r.body).includes(second));
    const earlier = earlierTurns(request2);
    await setup.nextBeat(Date.now());
    const view = setup.view();
    report.platform(view);
    const fresh = request2 !== undefined && earlier === 0;
    if (fresh)
      report.caught(
        "the fake model's request for message 2 had no earlier turns: a fresh session, not a failed --resume",
      );
    else report.missed(`the fake model's request for message 2 carried ${earlier} earlier turns`);
    const clean = view.degradedEvents === 0 && view.errorRate === 0;
    if (clean)
      report.caught(
        "the caller got an answer both times and the platform never saw a failed turn or a degraded status",
      );
    else report.missed("the platform saw a failure");
    return one.ok && two.ok && fresh && clean && files.length > 0;
  },
};

const loggedOut: Scenario = {
  name: "logged-out",
  title: "the agent has no credentials (no login, no API key)",
  async run({ setup, report }) {
    delete setup.env.ANTHROPIC_API_KEY;
    report.step("starting the daemon with an empty HOME and no ANTHROPIC_API_KEY");
    let refused = false;
    try {
      await setup.startDaemon();
    } catch (error) {
      const { RuntimeError } = setup.runtimeModule;
      if (!RuntimeError.isInstance(error) || error.code !== "E_PREFLIGHT") throw error;
      refused = true;
      report.line(error.message.trimEnd().replace(/^/gm, "    "));
      report.caught("preflight refused to start: the agent is not logged in (exit 1 in `molecule run`)");
    }
    if (!refused) {
      report.missed("the daemon started without agent credentials");
      return false;
    }
    report.step(
      "starting it again with the auth gate off (MOLECULE_PREFLIGHT_CHECK_AUTH=false), as a misconfigured deploy would",
    );
    setup.env.MOLECULE_PREFLIGHT_CHECK_AUTH = "false";
    await setup.startDaemon();
    const text = "Hello, are you there?";
    report.step(`message: "${text}" (the real Claude Code CLI runs the turn)`);
    const result = await setup.send(text);
    show(report, result);
    const auth = outcomeOf(result) === "auth";
    if (auth) report.caught("the turn was classified as outcome auth: a safe error to the caller, no fake success");
    else report.missed(`the turn's outcome was ${outcomeOf(result)}`);
    const ready = await probe(setup, "/readyz");
    report.line(`  GET /readyz → ${ready.status} ${ready.body}`);
    const t = Date.now();
    await setup.nextBeat(t);
    await setup.platform.control.waitFor(() => setup.view().errorRate > 0, 5_000).catch(() => undefined);
    const view = setup.view();
    report.platform(view);
    const seen = view.errorRate > 0;
    if (ready.status === 503) report.caught("readiness dropped (503) after the observed auth failure");
    if (seen) report.caught("the platform saw the failed turn (error_rate > 0)");
    return auth && ready.status === 503 && seen;
  },
};

const wedge: Scenario = {
  name: "wedge",
  title: "the agent hangs at start-up (Claude Code's `Control request timeout: initialize`)",
  async run({ setup, report }) {
    const agent = await agentCommand(setup, ["init-timeout", "ok"]);
    await setup.editConfig({ command: agent });
    report.step(`runtime_config.command = ${agent} (a fake agent: init-timeout on its first turn, then ok)`);
    await setup.startDaemon();
    const first = "Start working on the review, please.";
    report.step(`message 1: "${first}"`);
    const one = await setup.send(first);
    show(report, one);
    const id = setup.workspaceId;
    const degraded = await setup.platform.control
      .waitFor(() => {
        const ws = setup.platform.workspaces.get(id);
        return ws?.status === "degraded" && ws.runtimeState === "wedged";
      }, 10_000)
      .then(
        () => true,
        () => false,
      );
    const live = await probe(setup, "/livez");
    report.line(`  GET /livez → ${live.status} ${live.body}`);
    report.platform(setup.view());
    if (degraded) report.caught('the platform shows the workspace degraded with runtime_state "wedged" — no green dot');
    else report.missed("the platform never saw the wedge");
    report.step("the agent is healthy again (the operator restarted it); next message:");
    report.step('message 2: "Try again, please."');
    const two = await setup.send("Try again, please.");
    show(report, two);
    const cleared = await setup.platform.control
      .waitFor(() => setup.platform.workspaces.get(id)?.runtimeState === "", 10_000)
      .then(
        () => true,
        () => false,
      );
    report.platform(setup.view());
    if (cleared) {
      report.caught(
        'a successful turn cleared the wedge (runtime_state ""); the status returns to online once error_rate falls below 0.1 (60 s window)',
      );
    } else report.missed("the wedge was not cleared after a successful turn");
    return outcomeOf(one) === "wedged" && degraded && live.status === 503 && two.ok && cleared;
  },
};

export const tokenRotation: Scenario = {
  name: "token-rotation",
  title: "the platform rotates the workspace's auth token",
  async run({ setup, report }) {
    await setup.startDaemon();
    const { control } = setup.platform;
    const id = setup.workspaceId;
    await control.waitFor(
      () => control.beats(id).filter((b) => b.status === 200 && b.auth === "ok").length >= 2,
      10_000,
    );
    report.platform(setup.view(), "Platform sees (before)");
    // Rotate right after a beat landed, as the provisioner would between beats.
    const before = control.beats(id).length;
    await control.waitFor(() => control.beats(id).length > before, 5_000);
    const file = join(setup.configsDir, ".auth_token");
    control.rotateToken(id, { writeTo: file });
    const t = Date.now();
    report.step(`the platform revoked the token and wrote a new one to ${file}`);
    const fresh = await control
      .waitFor(() => {
        const live = control.token(id);
        return control.beats(id).filter((b) => b.at >= t && b.status === 200 && b.token === live).length >= 3;
      }, 15_000)
      .then(
        () => true,
        () => false,
      );
    const after = control.beats(id).filter((b) => b.at >= t);
    const unauthorized = after.filter((b) => b.status === 401).length;
    report.line(
      `  beats since the rotation: ${after.filter((b) => b.status === 200).length} accepted, ${unauthorized} answered 401`,
    );
    report.platform(setup.view(), "Platform sees (after)");
    if (fresh)
      report.caught(`the daemon picked up the new token from the file and kept beating (${unauthorized} × 401)`);
    else report.missed("the daemon did not use the new token");
    return fresh && unauthorized === 0 && setup.view().status === "online";
  },
};

export const platformOutage: Scenario = {
  name: "platform-outage",
  title: "the platform goes away for a few beats and comes back",
  async run({ setup, report }) {
    const runtime = await setup.startDaemon();
    const { control } = setup.platform;
    const id = setup.workspaceId;
    await control.waitFor(() => control.beats(id).filter((b) => b.status === 200).length >= 2, 10_000);
    report.platform(setup.view(), "Platform sees (before)");
    const failedBefore = runtime.status().beats.failed;
    report.step("platform down (connection refused) for 4 s");
    await control.down();
    await sleep(4_000);
    const failed = runtime.status().beats.failed - failedBefore;
    report.line(
      `  the daemon counted ${failed} failed beat${failed === 1 ? "" : "s"} (retried with backoff capped at the interval)`,
    );
    await control.up();
    const t = Date.now();
    report.step("platform up again");
    const recovered = await control
      .waitFor(
        () => control.beats(id).some((b) => b.at >= t && b.status === 200) && setup.view().status === "online",
        15_000,
      )
      .then(
        () => true,
        () => false,
      );
    const registrations = control.registrations(id).length;
    report.line(
      `  first accepted beat ${recovered ? `${((control.beats(id).find((b) => b.at >= t && b.status === 200)?.at ?? t) - t) / 1000} s after the platform came back` : "never came"}; registrations so far: ${registrations}`,
    );
    report.platform(setup.view(), "Platform sees (after)");
    if (failed > 0 && recovered)
      report.caught("beats failed while the platform was down and recovered on their own once it was back");
    else report.missed("the outage was not seen or the beats did not recover");
    return failed > 0 && recovered;
  },
};

const emptyOutput: Scenario = {
  name: "empty-output",
  title: "the agent exits 0 but prints nothing",
  async run({ setup, report }) {
    const agent = await agentCommand(setup, "empty-output-exit-0");
    await setup.editConfig({ command: agent });
    report.step(`runtime_config.command = ${agent} (a fake agent that exits 0 with no output)`);
    await setup.startDaemon();
    const text = "Summarise the open pull requests.";
    report.step(`message: "${text}"`);
    const result = await setup.send(text);
    show(report, result);
    const failed = outcomeOf(result) === "agent-error";
    if (failed) report.caught("exit 0 with no output is a failed turn (outcome agent-error), never an empty success");
    else report.missed(`the turn's outcome was ${outcomeOf(result)}`);
    const t = Date.now();
    await setup.nextBeat(t);
    await setup.platform.control.waitFor(() => setup.view().errorRate > 0, 5_000).catch(() => undefined);
    const view = setup.view();
    report.platform(view);
    if (view.errorRate > 0) report.caught(`the platform saw error_rate ${view.errorRate} (status ${view.status})`);
    return failed && view.errorRate > 0;
  },
};

export const SCENARIOS: readonly Scenario[] = [
  staleSession,
  loggedOut,
  wedge,
  tokenRotation,
  platformOutage,
  emptyOutput,
];
