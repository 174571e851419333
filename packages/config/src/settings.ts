import { hostname as osHostname } from "node:os";
import { join, resolve } from "node:path";
import * as z from "zod";

/** A pino log level (`LOG_LEVEL`). Spelled out so the API report lists every level. */
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
// Compile-time: the list and the union name the same levels (typecheck fails here otherwise).
true satisfies [LogLevel] extends [(typeof LOG_LEVELS)[number]]
  ? [(typeof LOG_LEVELS)[number]] extends [LogLevel]
    ? true
    : false
  : false;

/** Everything the daemon and the CLI take from the environment, validated. */
export interface Settings {
  /** `WORKSPACE_ID` (UUID-shaped), or undefined when missing or malformed (see the issues). */
  workspaceId: string | undefined;
  /** `WORKSPACE_CONFIG_PATH`, absolute; default `/configs`. config.yaml lives here. */
  configPath: string;
  /** `CONFIGS_DIR`, absolute; default `configPath`. The platform token file `.auth_token` lives here. */
  configsDir: string;
  /** `PLATFORM_URL` without a trailing slash, or undefined when missing or malformed. */
  platformUrl: string | undefined;
  /** `MOLECULE_STATE_DIR`, absolute; default `<configPath>/.molecule`. */
  stateDir: string;
  /** `MOLECULE_ADVERTISE_URL` without a trailing slash, when set; see `resolveAdvertiseUrl` for the default. */
  advertiseUrl: string | undefined;
  /** `HOSTNAME`, else `os.hostname()`: the host part of the default advertise URL. */
  hostname: string;
  /** `MOLECULE_ORG_ID`, when set (sent as `X-Molecule-Org-Id`). */
  orgId: string | undefined;
  /** `LOG_LEVEL` (lower-cased); default `info`. */
  logLevel: LogLevel;
}

/** A missing or malformed environment variable, with the fix. */
export interface SettingsIssue {
  variable: string;
  /** `fail`: the workspace cannot run without it; `warn`: a default is used instead. */
  severity: "fail" | "warn";
  code: "E_ENV_MISSING" | "E_ENV_INVALID";
  message: string;
  fix: string;
}

export interface ResolvedSettings {
  settings: Settings;
  issues: SettingsIssue[];
}

const guid = z.guid();
const httpUrl = z.url({ protocol: /^https?$/, hostname: z.regexes.hostname });
const logLevel = z.enum(LOG_LEVELS);

/** The default config path when `WORKSPACE_CONFIG_PATH` is not set. */
export const DEFAULT_CONFIG_PATH = "/configs";

/**
 * Reads the runtime's settings from `env` (the one place the daemon and every CLI command read env
 * vars). Never throws: a missing or malformed variable becomes an issue naming it and the fix, and
 * the setting falls back to its default (or undefined).
 */
export function resolveSettings(env: Readonly<Record<string, string | undefined>> = process.env): ResolvedSettings {
  const issues: SettingsIssue[] = [];
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };

  const rawId = get("WORKSPACE_ID");
  let workspaceId: string | undefined;
  if (rawId === undefined) {
    issues.push({
      variable: "WORKSPACE_ID",
      severity: "fail",
      code: "E_ENV_MISSING",
      message: "WORKSPACE_ID is not set",
      fix: "set WORKSPACE_ID to this workspace's id (a UUID, shown by the platform)",
    });
  } else if (guid.safeParse(rawId).success) {
    workspaceId = rawId.toLowerCase();
  } else {
    issues.push({
      variable: "WORKSPACE_ID",
      severity: "fail",
      code: "E_ENV_INVALID",
      message: `WORKSPACE_ID ${JSON.stringify(clip(rawId))} is not a UUID`,
      fix: "set WORKSPACE_ID to this workspace's UUID (8-4-4-4-12 hex digits, shown by the platform)",
    });
  }

  const platformUrl = url("PLATFORM_URL", get("PLATFORM_URL"), true, issues);
  const advertiseUrl = url("MOLECULE_ADVERTISE_URL", get("MOLECULE_ADVERTISE_URL"), false, issues);

  const configPath = resolve(get("WORKSPACE_CONFIG_PATH") ?? DEFAULT_CONFIG_PATH);
  const configsDir = resolve(get("CONFIGS_DIR") ?? configPath);
  const stateDir = resolve(get("MOLECULE_STATE_DIR") ?? join(configPath, ".molecule"));

  const rawLevel = get("LOG_LEVEL")?.toLowerCase();
  let level: LogLevel = "info";
  if (rawLevel !== undefined) {
    const parsed = logLevel.safeParse(rawLevel);
    if (parsed.success) level = parsed.data;
    else {
      issues.push({
        variable: "LOG_LEVEL",
        severity: "warn",
        code: "E_ENV_INVALID",
        message: `LOG_LEVEL ${JSON.stringify(clip(rawLevel))} is not a log level; using info`,
        fix: `set LOG_LEVEL to one of ${LOG_LEVELS.join(", ")}`,
      });
    }
  }

  return {
    settings: {
      workspaceId,
      configPath,
      configsDir,
      platformUrl,
      stateDir,
      advertiseUrl,
      hostname: get("HOSTNAME") ?? osHostname(),
      orgId: get("MOLECULE_ORG_ID"),
      logLevel: level,
    },
    issues,
  };
}

/** The URL the workspace advertises to the platform: `MOLECULE_ADVERTISE_URL`, else `http://<hostname>:<port>`. */
export function resolveAdvertiseUrl(settings: Pick<Settings, "advertiseUrl" | "hostname">, boundPort: number): string {
  return settings.advertiseUrl ?? `http://${settings.hostname}:${boundPort}`;
}

function url(name: string, value: string | undefined, required: boolean, issues: SettingsIssue[]): string | undefined {
  if (value === undefined) {
    if (required) {
      issues.push({
        variable: name,
        severity: "fail",
        code: "E_ENV_MISSING",
        message: `${name} is not set`,
        fix: `set ${name} to the platform's base URL, e.g. http://platform:8080`,
      });
    }
    return undefined;
  }
  if (httpUrl.safeParse(value).success) return value.replace(/\/+$/, "");
  issues.push({
    variable: name,
    severity: "fail",
    code: "E_ENV_INVALID",
    message: `${name} ${JSON.stringify(clip(value))} is not an http(s) URL`,
    fix: `set ${name} to a full http:// or https:// URL, e.g. http://platform:8080`,
  });
  return undefined;
}

function clip(value: string): string {
  return value.length > 60 ? `${value.slice(0, 60)}…` : value;
}
