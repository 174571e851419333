import { Command, CommanderError } from "commander";
import { version } from "../package.json";
import { type PreflightCommandOptions, preflightCommand } from "./preflight.js";

/** Where the CLI writes; tests and embedders can pass their own. */
export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes (DESIGN.md): 0 ok, 1 anything a report shows, 2 command-line usage errors only. */
export const EXIT_OK = 0;
export const EXIT_REPORT = 1;
export const EXIT_USAGE = 2;

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
      code = await preflightCommand(options, io);
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    throw error;
  }
  return code;
}
