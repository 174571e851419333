import type { Issue, PreflightReport } from "./types.js";

export interface RenderOptions {
  /** ANSI colours (red FAIL, yellow WARN). Default false. */
  color?: boolean;
}

/**
 * The report as operators of the existing runtime know it: nothing when there are no failures and
 * no warnings; otherwise `Preflight checks:` then `[FAIL] Title: detail` / `  Fix: …` lines,
 * failures before warnings. Ends with a newline when not empty.
 */
export function renderReport(report: PreflightReport, options: RenderOptions = {}): string {
  if (report.failures.length === 0 && report.warnings.length === 0) return "";
  const paint = (code: string, text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const line = (issue: Issue, tag: string) => `${tag} ${issue.title}: ${issue.detail}\n  Fix: ${issue.fix}\n`;
  let out = "Preflight checks:\n";
  for (const issue of report.failures) out += line(issue, paint("31;1", "[FAIL]"));
  for (const issue of report.warnings) out += line(issue, paint("33", "[WARN]"));
  return out;
}
