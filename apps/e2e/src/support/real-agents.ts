import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { CLAUDE_BIN, modelRequestTexts, realAgentBin } from "@molecule/test-support";
import { startFakeGeminiApi, startFakeModelApi, startFakeOpenAiResponses } from "@molecule/testkit";
import { type Daemon, projectDir } from "./daemon.js";

/** The failure modes every model API fake shares (the shared suite uses only these). */
export type SharedMode = "ok" | "empty" | "status:401";

/** One model API fake, seen the same way whichever API it imitates. */
export interface ModelFake {
  /** `runtime_config.base_url` for it, spelled as the agent's API clients spell it. */
  readonly url: string;
  setMode(mode: SharedMode): void;
  /** The texts of each conversation request the agent sent (side requests, e.g. a router's, left out), oldest first. */
  conversations(): string[][];
  close(): Promise<void>;
}

/**
 * A real agent CLI the shared e2e suite drives (agents.slow.test.ts): adding an agent is one entry
 * here. Everything is offline: the CLI talks to a testkit fake of its model API through
 * `runtime_config.base_url`, with a dummy key in its env var.
 */
export interface RealAgent {
  /** The registry id (`runtime:` in config.yaml). */
  readonly id: string;
  /** The pinned real CLI (installed into the cache on first use for the big ones). */
  bin(): Promise<string>;
  /** The env var the daemon passes the key in. */
  readonly keyEnv: string;
  startFake(reply: string): Promise<ModelFake>;
  /** Removes every transcript the agent keeps for this daemon (what a lost volume does). */
  deleteTranscripts(d: Daemon): Promise<void>;
  /** The transcript files the agent keeps for this daemon. */
  transcripts(d: Daemon): Promise<string[]>;
}

async function jsonlUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".jsonl")).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** The agent's home as the daemon places it: `<MOLECULE_STATE_DIR>/agents/<id>`. */
const agentHome = (d: Daemon, id: string) => join(d.stateDir, "agents", id);

const claudeCode: RealAgent = {
  id: "claude-code",
  bin: async () => CLAUDE_BIN,
  keyEnv: "ANTHROPIC_API_KEY",
  async startFake(reply) {
    const api = await startFakeModelApi({ reply });
    return {
      url: api.url,
      setMode: (mode) => api.setMode(mode),
      conversations: () => api.messages().map((m) => modelRequestTexts(m.body)),
      close: () => api.close(),
    };
  },
  deleteTranscripts: (d) => rm(join(d.home, ".claude", "projects"), { recursive: true, force: true }),
  transcripts: (d) => jsonlUnder(projectDir(d)),
};

const codex: RealAgent = {
  id: "codex",
  bin: () => realAgentBin("codex"),
  keyEnv: "CODEX_API_KEY",
  async startFake(reply) {
    const api = await startFakeOpenAiResponses({ reply });
    return {
      url: api.url,
      setMode: (mode) => api.setMode(mode),
      conversations: () => api.responses().map((r) => r.messages.map((m) => m.text)),
      close: () => api.close(),
    };
  },
  deleteTranscripts: (d) => rm(join(agentHome(d, "codex"), "sessions"), { recursive: true, force: true }),
  transcripts: (d) => jsonlUnder(join(agentHome(d, "codex"), "sessions")),
};

const geminiCli: RealAgent = {
  id: "gemini-cli",
  bin: () => realAgentBin("gemini-cli"),
  keyEnv: "GEMINI_API_KEY",
  async startFake(reply) {
    const api = await startFakeGeminiApi({ reply });
    return {
      url: api.url,
      setMode: (mode) => api.setMode(mode),
      // The conversation goes to :streamGenerateContent; the model router's side call does not count.
      conversations: () =>
        api
          .generations()
          .filter((r) => r.stream)
          .map((r) => r.messages.map((m) => m.text)),
      close: () => api.close(),
    };
  },
  deleteTranscripts: (d) => rm(join(agentHome(d, "gemini-cli"), ".gemini", "tmp"), { recursive: true, force: true }),
  transcripts: (d) => jsonlUnder(join(agentHome(d, "gemini-cli"), ".gemini", "tmp")),
};

/** Every agent the registry names, driven for real. A fourth CLI agent is one more line here. */
export const REAL_AGENTS: readonly RealAgent[] = [claudeCode, codex, geminiCli];
