/** The errno code of a Node system error (`"ENOENT"`, `"EACCES"`…), or undefined for anything else. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** An error's message, prefixed with its errno code when the message does not already say it. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = errnoCode(error);
    return code !== undefined && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
