import { adminSocketPath, type DaemonTarget, postTaskLabel } from "../admin.js";
import { reportCliError } from "../errors.js";
import type { Io } from "../io.js";

export interface TaskCommandOptions extends DaemonTarget {
  clear?: boolean;
  json?: boolean;
}

/** `molecule task <label>` / `molecule task --clear`: sets the label the heartbeat reports, through the daemon. */
export async function taskCommand(label: string | undefined, options: TaskCommandOptions, io: Io): Promise<number> {
  try {
    const socket = await adminSocketPath(io.env, options);
    const answer = await postTaskLabel(socket, { label: options.clear ? null : label });
    if (!answer.ok) {
      io.stderr.write(`molecule: the daemon refused the task label: ${answer.error}\n`);
      return 1;
    }
    const current = answer.currentTask;
    if (options.json) io.stdout.write(`${JSON.stringify({ currentTask: current })}\n`);
    else io.stdout.write(current ? `Current task: ${current}\n` : "Current task cleared.\n");
    return 0;
  } catch (error) {
    return reportCliError(error, io);
  }
}
