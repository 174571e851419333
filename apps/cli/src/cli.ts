import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { version } from "../package.json";
import type { AuthCheckOptions } from "./commands/auth.js";
import type { DevCommandOptions } from "./commands/dev/dev.js";
import type { PreflightCommandOptions } from "./commands/preflight.js";
import type { RunCommandOptions } from "./commands/run.js";
import type { SendCommandOptions } from "./commands/send.js";
import type { SessionCheckOptions } from "./commands/session.js";
import type { StatusCommandOptions } from "./commands/status.js";
import type { TaskCommandOptions } from "./commands/task.js";
import { EXIT_OK, EXIT_USAGE, type Io } from "./io.js";

/** The scenarios of `molecule dev --scenario` (kept here so `--help` loads no dev code). */
export const DEV_SCENARIOS = [
  "stale-session",
  "logged-out",
  "wedge",
  "token-rotation",
  "platform-outage",
  "empty-output",
] as const;

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number of seconds.");
  return n;
}

const CONFIG_HELP = "directory holding config.yaml (sets WORKSPACE_CONFIG_PATH)";
const STATE_DIR_HELP =
  "the daemon's state dir holding admin.sock (default MOLECULE_STATE_DIR, else <config>/.molecule)";

/** Runs the `molecule` command line and resolves to its exit code. Never calls process.exit. */
export async function main(argv: readonly string[], io: Io = process): Promise<number> {
  let code = EXIT_OK;
  const program = new Command("molecule")
    .description("Molecule Runtime: check and run an AI agent workspace.")
    .version(version, "-V, --version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showSuggestionAfterError(true);
  // Subcommands created below inherit exitOverride and the output streams.

  program
    .command("preflight")
    .description(
      "Check the workspace (environment, config.yaml, agent binary and login) and print what to fix. Exit 0 ok, 1 failures, 2 usage.",
    )
    .option(
      "--config <dir>",
      "directory holding config.yaml (sets WORKSPACE_CONFIG_PATH; the token dir follows unless CONFIGS_DIR is set)",
    )
    .option("--json", "print the report object as JSON")
    .option(
      "--no-auth",
      "skip the agent auth gate (same as MOLECULE_PREFLIGHT_CHECK_AUTH=false; a warning says it is off)",
    )
    .option("--no-agent", "skip the agent checks (binary, --version, login); a warning says so")
    .action(async (options: PreflightCommandOptions) => {
      const { preflightCommand } = await import("./commands/preflight.js");
      code = await preflightCommand(options, io);
    });

  program
    .command("run")
    .description(
      "Run the workspace daemon in the foreground until SIGTERM/SIGINT (preflight, A2A server, register, heartbeat). Exit 0 after a graceful stop, 1 when preflight or boot fails.",
    )
    .option("--config <dir>", CONFIG_HELP)
    .option("--workspace-dir <dir>", "the directory the agent works in (default: the current directory)")
    .option("--state-dir <dir>", "session store, delegation files, admin socket (sets MOLECULE_STATE_DIR)")
    .option("--grace <seconds>", "whole shutdown budget (default 10)", positiveSeconds)
    .option("--pretty", "pretty log lines (default: only when stdout is a TTY)")
    .action(async (options: RunCommandOptions) => {
      const { runCommand } = await import("./commands/run.js");
      code = await runCommand(options, io);
    });

  program
    .command("status")
    .description(
      "Show the running daemon's view (platform status as last seen, registration, wedge, current task, last turn, beats) from its admin socket. Exit 1 when no daemon answers.",
    )
    .option("--config <dir>", CONFIG_HELP)
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .option("--json", "print the status object as JSON")
    .action(async (options: StatusCommandOptions) => {
      const { statusCommand } = await import("./commands/status.js");
      code = await statusCommand(options, io);
    });

  program
    .command("task")
    .description("Set (or --clear) the current task label the heartbeat reports, through the running daemon.")
    .argument("[label]", "the label (the platform shows it as current_task)")
    .option("--clear", "clear the label")
    .option("--config <dir>", CONFIG_HELP)
    .option("--state-dir <dir>", STATE_DIR_HELP)
    .option("--json", "print the result as JSON")
    .action(async (label: string | undefined, options: TaskCommandOptions, command: Command) => {
      if ((label === undefined) === (options.clear !== true)) {
        command.error("error: give a label, or --clear (not both)", { exitCode: EXIT_USAGE });
      }
      const { taskCommand } = await import("./commands/task.js");
      code = await taskCommand(label, options, io);
    });

  const auth = program.command("auth").description("Agent and platform credentials.");
  const agentOption = new Option("--agent <name>", "check this agent instead of the config's runtime");
  auth
    .command("check")
    .description(
      "Check the agent's login for the config's runtime (token-free, network-free) and the platform token file. Never prints a token. Exit 1 when not logged in.",
    )
    .option("--config <dir>", "directory holding config.yaml (its runtime picks the agent; the token dir follows)")
    .addOption(agentOption)
    .option("--json", "print the result as JSON")
    .action(async (options: AuthCheckOptions) => {
      const { authCheckCommand } = await import("./commands/auth.js");
      code = await authCheckCommand(options, io);
    });

  const session = program.command("session").description("Agent sessions.");
  session
    .command("check")
    .description(
      "Would `--resume <id>` work in DIR? Prints the reason (found, relocated, missing, invalid-id, empty-file) and the transcript path. Exit 1 when the next turn would start fresh.",
    )
    .argument("<id>", "the Claude Code session id")
    .option("--cwd <dir>", "the directory the agent runs in (default: the current directory)")
    .option("--no-relocate", "only report; do not copy a transcript found under another project dir")
    .option("--json", "print the resolution as JSON")
    .action(async (id: string, options: SessionCheckOptions) => {
      const { sessionCheckCommand } = await import("./commands/session.js");
      code = await sessionCheckCommand(id, options, io);
    });

  program
    .command("send")
    .description(
      "Send one message to an A2A endpoint (JSON-RPC message/send, or message/stream with --stream) and print the reply, or the JSON-RPC error (exit 1). The reply's context id goes to stderr.",
    )
    .argument("<url>", "the workspace's A2A URL, e.g. http://localhost:8000/")
    .argument("<text>", "the message")
    .option("--timeout <seconds>", "give up after this long (default 900)", (v) => String(positiveSeconds(v)))
    .option(
      "--context-id <id>",
      "A2A context id: continue that conversation (each reply prints its context id on stderr)",
    )
    .option("--stream", "use message/stream: print progress on stderr as it arrives, then the reply")
    .option(
      "--token-file <file>",
      "the workspace's A2A token (a2a.auth: bearer), its first line; default: $MOLECULE_A2A_TOKEN",
    )
    .option("--json", "print the whole JSON-RPC response (with --stream: every event)")
    .action(async (url: string, text: string, options: SendCommandOptions, command: Command) => {
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
        command.error(`error: not an http(s) URL: ${url}`, { exitCode: EXIT_USAGE });
      }
      const { sendCommand } = await import("./commands/send.js");
      code = await sendCommand(url, text, options, io);
    });

  const devAgentOption = new Option(
    "--agent <id>",
    "the agent CLI to drive, against a fake of its model API (a pinned Codex or Gemini CLI is installed on first use into $MOLECULE_CACHE_DIR, default ~/.cache/molecule), or adapter: runtime: adapter with the template adapter package examples/adapter-package (an echo agent, no model API); --scenario wedge is Claude Code's own: with another agent it prints not applicable and exits 0",
  );
  program
    .command("dev")
    .description(
      "Try it with nothing set up: a test platform, a fake model API and the daemon on the example workspace driving the real agent CLI (Claude Code unless --agent), all on loopback. TTY: a live status line and your messages; otherwise two scripted messages. --scenario shows one silent failure being caught (exit 0 when it was).",
    )
    .option("--config <dir>", "the workspace to copy (default: examples/workspace of this repository)")
    .option("--live-model", "use your own Claude login or ANTHROPIC_API_KEY (and HOME) instead of the fake model API")
    .addOption(new Option("--scenario <name>", "run one failure scenario and exit").choices([...DEV_SCENARIOS]))
    .addOption(devAgentOption)
    .option(
      "--adapter <module>",
      "with --agent adapter: the adapter module to load instead of the template examples/adapter-package (a path, or a package name installed beside the daemon)",
    )
    .option("--keep", "keep the temp directory (configs, state, HOME, workspace) after exit")
    .action(async (options: DevCommandOptions, command: Command) => {
      if (options.scenario !== undefined && options.liveModel) {
        command.error("error: --scenario runs against the fake model API; drop --live-model", { exitCode: EXIT_USAGE });
      }
      if (options.liveModel && options.agent !== undefined && options.agent !== devAgentOption.defaultValue) {
        command.error("error: --live-model uses your own Claude login; it drives the default agent only", {
          exitCode: EXIT_USAGE,
        });
      }
      if (options.adapter !== undefined && options.agent !== "adapter") {
        command.error("error: --adapter names the module for --agent adapter; add --agent adapter", {
          exitCode: EXIT_USAGE,
        });
      }
      const { devCommand } = await import("./commands/dev/dev.js");
      code = await devCommand(options, io);
    });

  if (argv.includes("dev")) {
    // --agent's choices and default are the registry's, then the non-agent runtimes dev drives (preflight's
    // list, filtered); loaded only for `dev`, like the auth help below.
    const [{ AGENTS, DEFAULT_AGENT }, { DEV_RUNTIME_IDS }] = await Promise.all([
      import("@molecule/auth"),
      import("./commands/dev/adapter.js"),
    ]);
    devAgentOption.choices([...AGENTS.map((agent) => agent.id), ...DEV_RUNTIME_IDS]).default(DEFAULT_AGENT);
  }
  if (argv.includes("auth") && argv.some((arg) => arg === "--help" || arg === "-h" || arg === "help")) {
    // The agent ids come from the registry; loaded only for this help (it brings zod, which a plain
    // `molecule --help` does not load).
    const { AGENTS } = await import("@molecule/auth");
    agentOption.description += ` (${AGENTS.map((agent) => agent.id).join(", ")})`;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw error;
  }
  return code;
}
