// test-support has no dependencies (pnpm would not link testkit here): the source, relatively.
import { installAgentCli } from "../../testkit/src/install-agent-cli.ts";

/**
 * The real agent CLIs the e2e suites drive, pinned (the registry's `testedVersion`; a test keeps
 * them equal). Claude Code is a root devDependency; these two are too big for that (Codex is
 * 423 MB) and are installed on first use into a cache outside the workspace.
 */
export const AGENT_CLI_PINS = Object.freeze({
  codex: Object.freeze({ package: "@openai/codex", version: "0.169.0", bin: "codex" }),
  "gemini-cli": Object.freeze({ package: "@google/gemini-cli", version: "0.61.0", bin: "gemini" }),
});

export type PinnedAgentCli = keyof typeof AGENT_CLI_PINS;

/**
 * The pinned real CLI's executable, installed (`npm install`) into
 * `<cache>/agents/<name>-<version>` on first use (cache: `$MOLECULE_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/molecule`, else `~/.cache/molecule`) by testkit's `installAgentCli`: atomic,
 * locked against a parallel install, never half-installed.
 */
export async function realAgentBin(agent: PinnedAgentCli): Promise<string> {
  const pin = AGENT_CLI_PINS[agent];
  return (await installAgentCli({ package: pin.package, version: pin.version, bin: pin.bin })).bin;
}
