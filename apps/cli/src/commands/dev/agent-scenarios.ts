import { removeFiles } from "./agent-harness.js";
import { outcomeOf, platformOutage, probe, type Scenario, show, tokenRotation } from "./scenarios.js";
import type { DevSetup } from "./setup.js";

// The scenarios of `molecule dev --agent <id>` for an agent other than Claude Code: the same names,
// played against the agent's real CLI and its fake model API. token-rotation and platform-outage do
// not involve the agent and are Claude's own; wedge (Claude Code's start-up hang) has no counterpart.

function agentOf(setup: DevSetup) {
  if (!setup.agent) throw new Error("an agent scenario needs `--agent`");
  return setup.agent;
}

const staleSession: Scenario = {
  name: "stale-session",
  title: "the agent's session transcript disappears between two messages (a container restart)",
  async run({ setup, report }) {
    const agent = agentOf(setup);
    await setup.startDaemon();
    const first = "Please remember the word teal.";
    report.step(`message 1: "${first}"`);
    const one = await setup.send(first);
    show(report, one);
    const files = await agent.harness.transcripts(agent.home);
    report.step(
      `deleting the ${agent.harness.name}'s transcript${files.length === 1 ? "" : "s"}: ${files.join(", ") || "(none found)"}`,
    );
    await removeFiles(files);
    const second = "Which word did I ask you to remember?";
    report.step(`message 2: "${second}" (the daemon still holds the old session id)`);
    const two = await setup.send(second);
    show(report, two);
    const earlier = setup.earlierTurns(second);
    await setup.nextBeat(Date.now());
    const view = setup.view();
    report.platform(view);
    const fresh = earlier === 0;
    if (fresh)
      report.caught(
        "the fake model's request for message 2 had no earlier turns: a fresh session, not a failed resume",
      );
    else report.missed(`the fake model's request for message 2 carried ${earlier ?? "no"} earlier turns`);
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
  title: "the agent's credentials are refused (the model API answers 401)",
  async run({ setup, report }) {
    const agent = agentOf(setup);
    await setup.startDaemon();
    agent.api.setMode("unauthorized");
    report.step(`the fake ${agent.harness.apiName} now answers 401 to every request (a revoked key)`);
    const text = "Hello, are you there?";
    report.step(`message: "${text}" (the real ${agent.label} runs the turn)`);
    const result = await setup.send(text);
    show(report, result);
    const auth = outcomeOf(result) === "auth";
    if (auth) report.caught("the turn was classified as outcome auth: a safe error to the caller, no fake success");
    else report.missed(`the turn's outcome was ${outcomeOf(result)}`);
    const ready = await probe(setup, "/readyz");
    report.line(`  GET /readyz → ${ready.status} ${ready.body}`);
    await setup.nextBeat(Date.now());
    await setup.platform.control.waitFor(() => setup.view().errorRate > 0, 5_000).catch(() => undefined);
    const view = setup.view();
    report.platform(view);
    const seen = view.errorRate > 0;
    if (ready.status === 503) report.caught("readiness dropped (503) after the observed auth failure");
    if (seen) report.caught("the platform saw the failed turn (error_rate > 0)");
    return auth && ready.status === 503 && seen;
  },
};

const emptyOutput: Scenario = {
  name: "empty-output",
  title: "the model returns an empty answer and the agent exits 0",
  async run({ setup, report }) {
    const agent = agentOf(setup);
    await setup.startDaemon();
    agent.api.setMode("empty");
    report.step(`the fake ${agent.harness.apiName} now answers with no text at all`);
    const text = "Summarise the open pull requests.";
    report.step(`message: "${text}"`);
    const result = await setup.send(text);
    show(report, result);
    const failed = outcomeOf(result) === "agent-error";
    if (failed) report.caught("an empty answer is a failed turn (outcome agent-error), never an empty success");
    else report.missed(`the turn's outcome was ${outcomeOf(result) ?? "ok"}`);
    await setup.nextBeat(Date.now());
    await setup.platform.control.waitFor(() => setup.view().errorRate > 0, 5_000).catch(() => undefined);
    const view = setup.view();
    report.platform(view);
    if (view.errorRate > 0) report.caught(`the platform saw error_rate ${view.errorRate} (status ${view.status})`);
    return failed && view.errorRate > 0;
  },
};

/** Why a scenario has no counterpart for an agent other than Claude Code. */
export const NOT_APPLICABLE: Readonly<Record<string, string>> = {
  wedge:
    "the wedge is Claude Code's start-up hang (`Control request timeout: initialize`); other agents have no such handshake",
};

/** The scenarios `molecule dev --agent <id>` plays for an agent other than Claude Code. */
export const AGENT_SCENARIOS: readonly Scenario[] = [
  staleSession,
  loggedOut,
  tokenRotation,
  platformOutage,
  emptyOutput,
];

/** Why the other scenarios have no counterpart for the echo adapter. */
export const ADAPTER_NOT_APPLICABLE: Readonly<Record<string, string>> = {
  wedge:
    "the wedge is Claude Code's start-up hang (`Control request timeout: initialize`); an adapter has no such handshake",
  "stale-session": "the echo adapter keeps no session or transcript to lose",
  "logged-out": "the echo adapter calls no model API and has no login to revoke",
  "empty-output":
    "the echo adapter always answers with the message it got (an empty message is refused as bad-request)",
};

/** The scenarios `molecule dev --agent adapter` plays: the ones that involve the daemon, not the agent. */
export const ADAPTER_SCENARIOS: readonly Scenario[] = [tokenRotation, platformOutage];
