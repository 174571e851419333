import { rename } from "node:fs/promises";
import { join } from "node:path";
import { SessionError } from "@molecule/session";
import { type AgentGroups, createAgentGroups, type ProcessTable } from "./agent-groups.js";
import { errorText } from "./errors.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { createStateDirHealth, type StateDirHealth } from "./state-dir-health.js";

/** The files that remember agent sessions: never resumed while an agent of a previous run may hold them. */
const SESSION_FILES = ["session.json", "contexts.json"];

export interface PreparedStateDir {
  /** Failing writes to the state directory (readiness warnings, `sample_error`). */
  stateDirHealth: StateDirHealth;
  groups: AgentGroups;
  /** For the executor: a failed session write is reported with its retry, never the turn's failure. */
  onStateWriteError(what: string, error: unknown, retry: () => Promise<void>): void;
}

/**
 * Boot, before serving: the state volume's health, the agent-group record, and the end of any agent
 * a previous daemon (killed with -9) left running. When one survives even SIGKILL, the remembered
 * sessions are moved aside (`<file>.held-<time>`) so no turn resumes a session it may still write. @internal
 */
export async function prepareStateDir(options: {
  stateDir: string;
  log: Logger;
  metrics: Metrics;
  procs?: ProcessTable;
}): Promise<PreparedStateDir> {
  const { stateDir, log, metrics } = options;
  const health = createStateDirHealth({ stateDir, log, metrics });
  const groups = createAgentGroups({
    stateDir,
    log,
    ...(options.procs ? { procs: options.procs } : {}),
    onWriteError: (error) => health.failed("agent record", error),
    onWriteOk: () => health.succeeded("agent record"),
  });
  const { ended, survivors } = await groups.reapLeftovers();
  metrics.agentsReaped.inc(ended);
  if (survivors > 0) {
    const suffix = `held-${Date.now()}`;
    for (const name of SESSION_FILES) {
      await rename(join(stateDir, name), join(stateDir, `${name}.${suffix}`)).catch(() => undefined);
    }
    log.error(
      { event: "session.set_aside", files: SESSION_FILES, suffix },
      "an agent of a previous daemon could not be ended; its sessions are set aside and conversations start fresh",
    );
  }
  return {
    stateDirHealth: health,
    groups,
    onStateWriteError(what, error, retry) {
      if (SessionError.isInstance(error) && error.code !== "E_SESSION_STORE_WRITE") {
        // Not the volume: e.g. an id the agent reported that the store refuses. The answer still goes out.
        log.warn({ event: "session.not_recorded", err: errorText(error) }, "the turn's session id was not recorded");
        return;
      }
      health.failed(what, error, retry);
    },
  };
}
