import { execFile } from "node:child_process";
import { access, mkdir, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

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

/** `$MOLECULE_CACHE_DIR`, else `$XDG_CACHE_HOME/molecule`, else `~/.cache/molecule`. */
function cacheRoot(): string {
  const env = process.env;
  if (env.MOLECULE_CACHE_DIR) return env.MOLECULE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "molecule");
}

const installs = new Map<string, Promise<string>>();

/**
 * The pinned real CLI's executable, installed (`npm install`) into
 * `<cache>/agents/<name>-<version>` on first use. Installs into a temp dir and renames it into
 * place, so a killed install never leaves a half-installed CLI behind.
 */
export function realAgentBin(agent: PinnedAgentCli): Promise<string> {
  const pin = AGENT_CLI_PINS[agent];
  const name = pin.package.split("/").pop() ?? agent;
  const dir = join(cacheRoot(), "agents", `${name}-${pin.version}`);
  const bin = join(dir, "node_modules", ".bin", pin.bin);
  let pending = installs.get(bin);
  if (!pending) {
    pending = (async () => {
      if (
        await access(bin).then(
          () => true,
          () => false,
        )
      )
        return bin;
      const staging = `${dir}.partial-${process.pid}-${Date.now()}`;
      await mkdir(staging, { recursive: true });
      try {
        await promisify(execFile)(
          "npm",
          ["install", "--prefix", staging, "--no-save", "--no-audit", "--no-fund", `${pin.package}@${pin.version}`],
          { maxBuffer: 16 * 1024 * 1024 },
        );
        await rename(staging, dir).catch(async (error: NodeJS.ErrnoException) => {
          // Another process won the race: its install is as good as ours.
          if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
        });
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
      return bin;
    })();
    installs.set(bin, pending);
  }
  return pending;
}
