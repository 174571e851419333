import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SessionLogger } from "./logger.js";

/** A logger that keeps every call, for assertions. @internal */
export function sinkLogger() {
  const lines: { level: "debug" | "info" | "warn" | "error"; obj: Record<string, unknown>; msg: string | undefined }[] =
    [];
  const at =
    (level: "debug" | "info" | "warn" | "error") =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: { ...obj }, msg });
    };
  const logger: SessionLogger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines, events: () => lines.map((line) => line.obj.event) };
}

/** A fresh real temp dir (realpath'd) and its removal. @internal */
export async function tempDir(prefix = "molecule-session-"): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
