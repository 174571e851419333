import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join } from "node:path";
import { resolveSettings, type SettingsIssue } from "@molecule/config";
import { looseTokenMode } from "@molecule/internal";
import { defineCheck } from "./run.js";
import type { CheckIssue, PreflightContext } from "./types.js";

/** The platform token file inside `CONFIGS_DIR`. @internal */
export const PLATFORM_TOKEN_FILE = ".auth_token";

const asIssue = (issue: SettingsIssue, title: string): CheckIssue => ({
  severity: issue.severity,
  code: issue.code,
  title,
  detail: issue.message,
  fix: issue.fix.charAt(0).toUpperCase() + issue.fix.slice(1),
});

function settingIssues(ctx: PreflightContext, variable: string): SettingsIssue[] {
  return resolveSettings(ctx.env).issues.filter((i) => i.variable === variable);
}

/** `WORKSPACE_ID` is present and UUID-shaped. */
export const workspaceIdCheck = defineCheck({
  name: "workspace-id",
  needsConfig: false,
  run(ctx) {
    if (ctx.settings.workspaceId) return { detail: ctx.settings.workspaceId };
    const found = settingIssues(ctx, "WORKSPACE_ID");
    const issues = found.length > 0 ? found : [missing("WORKSPACE_ID", "set WORKSPACE_ID to this workspace's UUID")];
    return { issues: issues.map((i) => asIssue(i, "WORKSPACE_ID")) };
  },
});

/** `PLATFORM_URL` is a valid http(s) URL. */
export const platformUrlCheck = defineCheck({
  name: "platform-url",
  needsConfig: false,
  run(ctx) {
    if (ctx.settings.platformUrl) return { detail: ctx.settings.platformUrl };
    const found = settingIssues(ctx, "PLATFORM_URL");
    const issues = found.length > 0 ? found : [missing("PLATFORM_URL", "set PLATFORM_URL to the platform's base URL")];
    return { issues: issues.map((i) => asIssue(i, "PLATFORM_URL")) };
  },
});

/** Every other environment setting (`MOLECULE_ADVERTISE_URL`, `LOG_LEVEL`, …) is well-formed. */
export const environmentCheck = defineCheck({
  name: "environment",
  needsConfig: false,
  run(ctx) {
    const issues = resolveSettings(ctx.env)
      .issues.filter((i) => i.variable !== "WORKSPACE_ID" && i.variable !== "PLATFORM_URL")
      .map((i) => asIssue(i, i.variable));
    return { issues };
  },
});

/**
 * The platform token file `<CONFIGS_DIR>/.auth_token` is readable and mode 0600 (looser → warn).
 * Absent is fine: the platform issues one at the first register.
 */
export const platformTokenCheck = defineCheck({
  name: "platform-token",
  needsConfig: false,
  async run(ctx) {
    const file = join(ctx.settings.configsDir, PLATFORM_TOKEN_FILE);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(file);
    } catch (error) {
      const code = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
      if (code === "ENOENT") return { detail: `${file} absent (issued at the first register)` };
      return { issues: [unreadable(file, code)] };
    }
    if (!info.isFile()) return { issues: [unreadable(file, "not a regular file")] };
    try {
      await access(file, constants.R_OK);
    } catch (error) {
      const code = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
      return { issues: [unreadable(file, code)] };
    }
    const mode = info.mode & 0o777;
    const issues: CheckIssue[] = [];
    // undefined for a mounted Secret (`..data/` symlink, the kubelet's read-only 0440): no warning.
    const loose = await looseTokenMode(file, mode);
    if (loose) {
      issues.push({
        severity: "warn",
        code: "W_PLATFORM_TOKEN_MODE",
        title: "Platform token file is readable by others",
        detail: loose.problem,
        fix: `Run ${loose.fix}.`,
      });
    }
    return { issues, detail: `${file} mode 0${mode.toString(8).padStart(3, "0")}` };
  },
});

function missing(variable: string, fix: string): SettingsIssue {
  return { variable, severity: "fail", code: "E_ENV_MISSING", message: `${variable} is not set`, fix };
}

function unreadable(file: string, why: string): CheckIssue {
  return {
    severity: "fail",
    code: "E_PLATFORM_TOKEN_UNREADABLE",
    title: "Platform token file unreadable",
    detail: `${file}: ${why}`,
    fix: `Make ${file} a regular file readable by the runtime's user (mode 0600), or remove it so the platform issues a new one.`,
  };
}
