import { oneLine } from "@molecule/internal";
import type { Style } from "../../style.js";
import type { PlatformView } from "./setup.js";

/** The lines `molecule dev` prints: steps, replies, what was caught, what the platform saw. */
export interface Reporter {
  readonly style: Style;
  line(text: string): void;
  step(text: string): void;
  reply(text: string): void;
  error(text: string): void;
  caught(text: string): void;
  missed(text: string): void;
  platform(view: PlatformView, label?: string): void;
}

/** A reply or error as one line of at most 300 characters (299 and "…"). */
const shown = (text: string) => oneLine(text, 299);

/** The platform's status word in its colour: online green, degraded red, anything else yellow. */
export function styledStatus(status: string, style: Style): string {
  return status === "online" ? style.green(status) : status === "degraded" ? style.red(status) : style.yellow(status);
}

export function describeView(view: PlatformView): string {
  return `status ${view.status}, beats ${view.beatsOk} ok${view.beatsRejected ? ` / ${view.beatsRejected} rejected` : ""}, runtime_state ${JSON.stringify(view.runtimeState)}, error_rate ${view.errorRate}, active_tasks ${view.activeTasks}`;
}

export function createReporter(write: (text: string) => void, style: Style): Reporter {
  return {
    style,
    line: (text) => write(`${text}\n`),
    step: (text) => write(`${style.cyan("→")} ${text}\n`),
    reply: (text) => write(`${style.green("←")} reply: ${shown(text)}\n`),
    error: (text) => write(`${style.red("←")} error: ${shown(text)}\n`),
    caught: (text) => write(`${style.green("✓")} ${text}\n`),
    missed: (text) => write(`${style.red("✗")} ${text}\n`),
    platform: (view, label = "Platform sees") => {
      const status = styledStatus(view.status, style);
      write(
        `  ${style.bold(`${label}:`)} ${describeView(view).replace(`status ${view.status}`, `status ${status}`)}\n`,
      );
    },
  };
}
