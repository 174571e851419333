// Helpers shared by the tests of several packages (never published; see ../README.md).
// Helpers for adapter authors belong in @molecule/testkit; helpers of one package stay beside its tests.
export { AGENT_CLI_PINS, type PinnedAgentCli, realAgentBin } from "./agent-clis.ts";
export { CLAUDE_BIN, CLAUDE_BIN_DIR, modelRequestTexts, OFFLINE_CLAUDE_ENV, REPO_ROOT } from "./claude.ts";
export { type LogLevel, type LogLine, type LogSink, type SinkLogger, sinkLogger } from "./log.ts";
export {
  isRunning,
  type ProcessOptions,
  type ProcessResult,
  runProcess,
  type StartedProcess,
  startProcess,
} from "./process.ts";
export { removeDir, tempDir } from "./temp.ts";
export { IS_ROOT, mountSmallVolume, type SmallVolume } from "./tmpfs.ts";
export { waitFor } from "./wait.ts";
