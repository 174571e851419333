import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DEFAULT_AGENT } from "@molecule/auth";
import { errorText } from "@molecule/internal";
import { reportCliError } from "../../errors.js";
import type { Io } from "../../io.js";
import { colorEnabled, createStyle, type Style } from "../../style.js";
import type { SendResult } from "../send.js";
import { DEV_ADAPTER_RUNTIME, DEV_RUNTIME_IDS, devAdapterModule } from "./adapter.js";
import { ADAPTER_NOT_APPLICABLE, ADAPTER_SCENARIOS, AGENT_SCENARIOS, NOT_APPLICABLE } from "./agent-scenarios.js";
import { DEV_AGENT_IDS, devAgentHarness } from "./agents.js";
import { createReporter, describeView, type Reporter, styledStatus } from "./report.js";
import { SCENARIOS } from "./scenarios.js";
import { createDevSetup, type DevSetup } from "./setup.js";

export interface DevCommandOptions {
  config?: string;
  liveModel?: boolean;
  scenario?: string;
  keep?: boolean;
  /** the registry id of the agent to drive (default: the registry's default, Claude Code), or `adapter` */
  agent?: string;
  /** with `--agent adapter`: the adapter module to load instead of the template adapter package */
  adapter?: string;
}

/** A scenario must show its failure within this budget (the command's whole budget is 60 s). */
const SCENARIO_BUDGET_MS = 48_000;

const SCRIPT = ["Hello! Please introduce yourself in one sentence.", "What did I just ask you?"];

function interruptSignal(): { promise: Promise<"interrupted">; dispose(): void } {
  let onSignal: () => void = () => undefined;
  const promise = new Promise<"interrupted">((resolve) => {
    onSignal = () => resolve("interrupted");
  });
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    promise,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

function header(setup: DevSetup, report: Reporter, live: boolean): void {
  const s = report.style;
  report.line(`  ${s.dim("platform:      ")} ${setup.platform.url} (testkit; workspace ${setup.workspaceId})`);
  const agent = setup.agent;
  if (setup.adapterModule !== undefined) {
    report.line(
      `  ${s.dim("model:         ")} none faked: the adapter module answers each message (the template is an echo agent)`,
    );
    report.line(`  ${s.dim("adapter:       ")} ${setup.adapterModule} (runtime: adapter, runtime_config.module)`);
  } else
    report.line(
      `  ${s.dim("model:         ")} ${live ? "your own Claude login / ANTHROPIC_API_KEY (--live-model)" : agent ? `${agent.api.url} (fake ${agent.harness.apiName}; the real ${agent.label} talks to it)` : `${setup.modelApi?.url} (fake Anthropic API; the real Claude Code CLI talks to it)`}`,
    );
  if (agent) {
    const runs = agent.bin ?? "no CLI: the daemon posts each turn and keeps the history in its state dir";
    report.line(`  ${s.dim("agent:         ")} ${runs}${agent.bin ? ` (home ${agent.home})` : ""}`);
  }
  if (setup.runtime) {
    report.line(`  ${s.dim("daemon:        ")} http://127.0.0.1:${setup.runtime.port}/ (A2A)`);
  }
  report.line(`  ${s.dim("daemon log:    ")} ${setup.logFile}`);
}

function showResult(report: Reporter, result: SendResult): void {
  if (result.ok) report.reply(result.text);
  else report.error(`JSON-RPC ${result.code}: ${result.message}`);
}

async function scripted(setup: DevSetup, report: Reporter, live: boolean): Promise<boolean> {
  let allOk = true;
  for (const [i, text] of SCRIPT.entries()) {
    report.step(`message ${i + 1}: "${text}"`);
    const result = await setup.send(text, live ? 300_000 : 120_000);
    showResult(report, result);
    allOk &&= result.ok;
    await setup.nextBeat(Date.now()).catch(() => undefined);
    report.platform(setup.view());
  }
  if (setup.adapterModule !== undefined) {
    report.line(
      "  (the resume line does not apply: there is no fake model API to count earlier turns, and the template echo adapter keeps no conversation)",
    );
  } else if (!live) {
    const earlier = setup.earlierTurns(SCRIPT[1] ?? "") ?? 0;
    if (earlier > 0) {
      report.caught(
        `message 2 resumed the session of message 1: the model saw ${earlier} earlier turn${earlier === 1 ? "" : "s"}`,
      );
    }
  }
  return allOk;
}

function statusPrompt(setup: DevSetup, style: Style): string {
  const view = setup.view();
  const st = setup.runtime?.status();
  const status = styledStatus(view.status, style);
  const wedge = st?.wedge.wedged ? style.red("WEDGED") : "not wedged";
  const last = st?.lastOutcome ?? "none";
  return `${style.dim("[")}${status} · beats ${st?.beats.ok ?? 0} ok/${st?.beats.failed ?? 0} failed · ${wedge} · last turn ${last === "ok" || last === "none" ? last : style.red(last)}${style.dim("]")} › `;
}

async function interactive(
  setup: DevSetup,
  report: Reporter,
  io: Io,
  interrupted: Promise<"interrupted">,
): Promise<void> {
  const style = report.style;
  report.line(
    `Type a message and press Enter; it goes to the daemon over A2A. ${style.dim("/status prints the platform's view, /quit or Ctrl-D exits.")}`,
  );
  report.line(style.dim(`(in another shell: molecule status --state-dir ${setup.stateDir})`));
  const input = io.stdin ?? process.stdin;
  const rl = createInterface({ input, output: process.stdout, terminal: true });
  let busy = false;
  const refresh = () => {
    if (busy) return;
    rl.setPrompt(statusPrompt(setup, style));
    rl.prompt(true);
  };
  const timer = setInterval(refresh, 1_000);
  refresh();
  const closed = new Promise<void>((resolve) => rl.once("close", () => resolve()));
  rl.on("SIGINT", () => rl.close());
  rl.on("line", (line) => {
    const text = line.trim();
    if (text === "/quit" || text === "/exit") return rl.close();
    if (text === "/status") {
      report.platform(setup.view());
      return refresh();
    }
    if (text === "") return refresh();
    busy = true;
    report.line(style.dim("… the agent is working"));
    void setup
      .send(text, 600_000)
      .then(
        (result) => showResult(report, result),
        (error: unknown) => report.error(errorText(error)),
      )
      .finally(() => {
        busy = false;
        refresh();
      });
  });
  await Promise.race([closed, interrupted]);
  clearInterval(timer);
  rl.close();
  report.line("");
}

/**
 * `molecule dev`: the testkit platform, the fake model API (or your own login with --live-model) and the
 * daemon on the example workspace driving the real Claude Code CLI, all on loopback. TTY: a live status line
 * and your messages; otherwise two scripted messages. `--scenario <name>` shows one silent failure being caught.
 */
export async function devCommand(options: DevCommandOptions, io: Io): Promise<number> {
  const style = createStyle(colorEnabled(io.stdout, io.env));
  const report = createReporter((text) => io.stdout.write(text), style);
  // The agent: Claude Code (setup.ts's own path) unless --agent names one with a dev harness.
  const harness = options.agent === undefined ? undefined : devAgentHarness(options.agent);
  const adapter = options.agent === DEV_ADAPTER_RUNTIME;
  if (options.agent !== undefined && options.agent !== DEFAULT_AGENT && harness === undefined && !adapter) {
    const drivable = [DEFAULT_AGENT, ...DEV_AGENT_IDS, ...DEV_RUNTIME_IDS].join(", ");
    io.stderr.write(
      `molecule dev: --agent ${options.agent} cannot be driven by molecule dev yet (it drives ${drivable})\n`,
    );
    return 1;
  }
  const scenarios = adapter ? ADAPTER_SCENARIOS : harness ? AGENT_SCENARIOS : SCENARIOS;
  const scenario = options.scenario === undefined ? undefined : scenarios.find((s) => s.name === options.scenario);
  if ((harness || adapter) && options.scenario !== undefined && scenario === undefined) {
    const id = harness?.id ?? DEV_ADAPTER_RUNTIME;
    const why =
      (adapter ? ADAPTER_NOT_APPLICABLE : NOT_APPLICABLE)[options.scenario] ?? "it has no counterpart for this agent";
    report.line(`molecule dev --agent ${id} --scenario ${options.scenario}: not applicable to ${id}: ${why}`);
    return 0;
  }
  const live = options.liveModel === true && scenario === undefined;
  const started = Date.now();
  const interrupt = interruptSignal();

  // Ctrl-C during the agent CLI's first-run install stops npm (nothing is left half-installed).
  const installAbort = new AbortController();
  void interrupt.promise.then(() => installAbort.abort(new Error("interrupted")));
  let setup: DevSetup;
  try {
    setup = await createDevSetup(
      {
        ...(options.config !== undefined ? { config: options.config } : {}),
        liveModel: live,
        keep: options.keep === true,
        ...(adapter ? { adapterModule: devAdapterModule(fileURLToPath(import.meta.url), options.adapter) } : {}),
        ...(harness
          ? { agent: harness, onProgress: (text: string) => report.step(text), signal: installAbort.signal }
          : {}),
      },
      io.env,
    );
  } catch (error) {
    interrupt.dispose();
    if (installAbort.signal.aborted) {
      report.line("interrupted; nothing was left installed");
      return 0;
    }
    return reportCliError(error, io, "molecule dev");
  }

  try {
    if (scenario) {
      const on = setup.agent
        ? ` --agent ${setup.agent.harness.id}`
        : setup.adapterModule !== undefined
          ? ` --agent ${DEV_ADAPTER_RUNTIME}`
          : "";
      report.line(style.bold(`molecule dev${on} --scenario ${scenario.name}: ${scenario.title}`));
      header(setup, report, false);
      let timer: NodeJS.Timeout | undefined;
      const budget = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), SCENARIO_BUDGET_MS);
      });
      let verdict: boolean | "timeout" | "interrupted";
      try {
        verdict = await Promise.race([scenario.run({ setup, report }), budget, interrupt.promise]);
      } catch (error) {
        report.missed(`the scenario stopped: ${errorText(error)}`);
        verdict = false;
      } finally {
        clearTimeout(timer);
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (verdict === true) {
        report.line(style.green(`PASS ${scenario.name}: the failure was caught and shown (${seconds} s)`));
        return 0;
      }
      const why =
        verdict === "timeout"
          ? "ran out of time"
          : verdict === "interrupted"
            ? "interrupted"
            : "the failure was not caught";
      report.line(style.red(`FAIL ${scenario.name}: ${why} (${seconds} s); daemon log: ${setup.logFile}`));
      return 1;
    }

    report.line(
      style.bold(
        setup.adapterModule !== undefined
          ? `molecule dev: the workspace daemon on the example workspace, runtime: adapter with ${options.adapter ?? "the template adapter package (an echo agent)"}, all on loopback`
          : `molecule dev: the workspace daemon on the example workspace, driving the real ${setup.agent?.label ?? "Claude Code CLI"}, all on loopback`,
      ),
    );
    const boot = await Promise.race([setup.startDaemon(), interrupt.promise]);
    if (boot === "interrupted") return 0;
    header(setup, report, live);
    await setup.nextBeat(0).catch(() => undefined);
    report.platform(setup.view());

    const stdin = io.stdin ?? process.stdin;
    if (stdin.isTTY === true) {
      await interactive(setup, report, io, interrupt.promise);
      return 0;
    }
    const done = await Promise.race([scripted(setup, report, live), interrupt.promise]);
    if (done === "interrupted") return 0;
    report.line(`Platform's final view: ${describeView(setup.view())}`);
    return done ? 0 : 1;
  } catch (error) {
    const { RuntimeError } = setup.runtimeModule;
    if (RuntimeError.isInstance(error)) {
      io.stderr.write(`${error.message.trimEnd()}\n`);
      if (live)
        io.stderr.write("molecule dev: --live-model uses your own Claude login; without one, drop --live-model.\n");
      return 1;
    }
    throw error;
  } finally {
    interrupt.dispose();
    report.line(style.dim("shutting down…"));
    await setup.close();
    report.line(style.dim(`stopped. Daemon log kept at ${setup.logFile}`));
  }
}
