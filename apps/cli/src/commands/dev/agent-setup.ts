import { homedir } from "node:os";
import { join } from "node:path";
import { agentHomeDir, getAgent } from "@molecule/auth";
import { errorText } from "@molecule/internal";
import { CliError } from "../../errors.js";
import { type DevAgentHarness, type DevModelApi, devReply } from "./agent-harness.js";

/** The agent `molecule dev --agent` drives (anything but Claude Code): its CLI, home and fake model API. */
export interface DevAgentRun {
  readonly harness: DevAgentHarness;
  /** e.g. "Codex CLI 0.169.0" */
  readonly label: string;
  /** the installed CLI (`runtime_config.command`); undefined for an endpoint agent (no CLI) */
  readonly bin: string | undefined;
  /** its home as the daemon places it: `<state dir>/agents/<id>` */
  readonly home: string;
  /** the env var the daemon passes the (dummy) key in */
  readonly keyEnv: string;
  readonly api: DevModelApi;
}

/** `$MOLECULE_CACHE_DIR`, else `$XDG_CACHE_HOME/molecule`, else `~/.cache/molecule` (testkit's installAgentCli's). */
export function agentCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  if (env.MOLECULE_CACHE_DIR) return env.MOLECULE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache"), "molecule");
}

/**
 * Installs the agent's pinned CLI on first use (the registry's `npmPackage@testedVersion`, into the
 * cache outside the workspace) and starts the testkit fake of its model API.
 */
export async function startDevAgent(
  harness: DevAgentHarness,
  testkit: typeof import("@molecule/testkit"),
  context: {
    parentEnv: Readonly<Record<string, string | undefined>>;
    home: string;
    stateDir: string;
    onProgress: (text: string) => void;
    /** aborts the install (Ctrl-C); nothing is left half-installed */
    signal?: AbortSignal | undefined;
  },
): Promise<DevAgentRun> {
  const agent = getAgent(harness.id);
  const keyEnv = agent?.credentialEnv[0];
  const home =
    agentHomeDir(harness.id, { home: context.home, env: {}, stateDir: context.stateDir }) ??
    join(context.stateDir, "agents", harness.id);
  if (agent?.endpoint && keyEnv !== undefined) {
    // No CLI: the daemon talks to the (fake) endpoint itself.
    const api = await harness.startModelApi(testkit, devReply(harness.apiName));
    return { harness, label: harness.name, bin: undefined, home, keyEnv, api };
  }
  if (
    agent?.npmPackage === undefined ||
    agent.testedVersion === undefined ||
    agent.binary === undefined ||
    keyEnv === undefined
  ) {
    throw new Error(`the registry entry of ${harness.id} names no npm package, tested version, binary or key variable`);
  }
  const spec = `${agent.npmPackage}@${agent.testedVersion}`;
  const cacheDir = agentCacheDir(context.parentEnv);
  let install: Awaited<ReturnType<typeof testkit.installAgentCli>>;
  try {
    install = await testkit.installAgentCli({
      package: agent.npmPackage,
      version: agent.testedVersion,
      bin: agent.binary,
      cacheDir,
      ...(context.signal ? { signal: context.signal } : {}),
      onProgress: (event) => {
        if (event.phase === "installing")
          context.onProgress(`installing ${spec} into ${cacheDir} (first run only, ${harness.installSize})`);
        else if (event.phase === "waiting")
          context.onProgress(`waiting for another process installing ${spec} into ${cacheDir}`);
      },
    });
  } catch (error) {
    if (!testkit.TestkitError.isInstance(error)) throw error;
    throw new CliError({
      code: "E_DEV_AGENT_INSTALL",
      message: `cannot install the ${harness.name} (${spec}): ${errorText(error)}`,
      cause: error,
    });
  }
  const api = await harness.startModelApi(testkit, devReply(harness.apiName));
  return { harness, label: `${harness.name} ${agent.testedVersion}`, bin: install.bin, home, keyEnv, api };
}
