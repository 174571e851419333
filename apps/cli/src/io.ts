/** Where the CLI reads and writes; tests and embedders can pass their own. */
export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  /** `molecule dev` reads messages from it when it is a TTY (default `process.stdin`). */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** Exit codes (docs/ARCHITECTURE.md): 0 ok, 1 anything a report shows, 2 command-line usage errors only. */
export const EXIT_OK = 0;
export const EXIT_REPORT = 1;
export const EXIT_USAGE = 2;
