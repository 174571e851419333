import { resolve } from "node:path";
import {
  type ProcessOptions,
  type ProcessResult,
  runProcess,
  type StartedProcess,
  startProcess,
} from "@molecule/test-support";

/** Helpers for the tests that run the built bin (`pnpm run build` first) as a child process. */
export const BIN = resolve(__dirname, "../dist/bin.js");

/** Starts `node dist/bin.js ...args` with exactly `env` (stdin closed unless `input` is given). */
export function startBin(args: string[], options: ProcessOptions): StartedProcess {
  return startProcess(process.execPath, [BIN, ...args], options);
}

/** Runs `node dist/bin.js ...args` to completion. */
export function runBin(args: string[], options: ProcessOptions): Promise<ProcessResult> {
  return runProcess(process.execPath, [BIN, ...args], options);
}
