import { access, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { defineCheck } from "./run.js";
import { agentFor } from "./runtimes.js";
import type { CheckIssue, Env } from "./types.js";

// Ranges and enums (a2a.port, idle_interval_seconds, task_budget, effort…) are not checked here:
// their one source is @molecule/config's schema, and loadConfig refuses a value outside them with a
// field error (the report's `config` row) before any check runs.

const set = (env: Env, name: string): boolean => (env[name]?.trim() ?? "") !== "";

/** `runtime` is one of `ctx.runtimes`. */
export const runtimeCheck = defineCheck({
  name: "runtime",
  run({ config, runtimes }) {
    if (runtimes.includes(config.runtime)) return { detail: config.runtime };
    return {
      issues: [
        {
          severity: "fail",
          code: "E_RUNTIME_UNKNOWN",
          title: "Unknown runtime",
          detail: `runtime ${JSON.stringify(config.runtime)} is not one of ${runtimes.join(", ")}`,
          fix: `Set runtime in config.yaml to one of ${runtimes.join(", ")}.`,
        },
      ],
    };
  },
});

/** `a2a.push_notifications: true` asks for what the daemon does not implement (→ warn; the card says false). */
export const pushNotificationsCheck = defineCheck({
  name: "a2a-push-notifications",
  run({ config }) {
    if (!config.a2a.push_notifications) return { detail: "off" };
    return {
      issues: [
        {
          severity: "warn",
          code: "W_PUSH_NOTIFICATIONS_UNSUPPORTED",
          title: "A2A push notifications are not implemented",
          detail:
            "a2a.push_notifications is true, but the daemon does not send push notifications; its agent card says pushNotifications: false",
          fix: "Remove a2a.push_notifications from config.yaml (or set it to false); stream the task (message/stream) or poll tasks/get instead.",
        },
      ],
    };
  },
});

/** Every `runtime_config.required_env` variable is present and non-empty. */
export const requiredEnvCheck = defineCheck({
  name: "required-env",
  run({ config, env }) {
    const missing = config.runtime_config.required_env.filter((name) => !set(env, name));
    return {
      issues: missing.map((name) => ({
        severity: "fail",
        code: "E_ENV_REQUIRED_MISSING",
        title: "Required environment variable missing",
        detail: `${name} is listed in runtime_config.required_env but is not set or empty`,
        fix: `Set ${name} in the workspace's environment (or remove it from required_env).`,
      })),
    };
  },
});

/** Every `runtime_config.required_env_any_of` group has at least one non-empty variable. */
export const requiredEnvAnyOfCheck = defineCheck({
  name: "required-env-any-of",
  run({ config, env }) {
    const issues: CheckIssue[] = [];
    for (const group of config.runtime_config.required_env_any_of) {
      if (group.length === 0 || group.some((name) => set(env, name))) continue;
      issues.push({
        severity: "fail",
        code: "E_ENV_ANY_OF_MISSING",
        title: "None of a group of environment variables is set",
        detail: `runtime_config.required_env_any_of needs one of ${group.join(", ")}; none is set`,
        fix: `Set one of ${group.join(", ")} in the workspace's environment.`,
      });
    }
    return { issues };
  },
});

/** The deprecated `runtime_config.auth_token_file` exists and is readable, unless the env alternative is set. */
export const authTokenFileCheck = defineCheck({
  name: "auth-token-file",
  async run({ config, configDir, env, agents }) {
    const file = config.runtime_config.auth_token_file;
    if (file === undefined) return { detail: "not configured" };
    const path = isAbsolute(file) ? file : resolve(configDir, file);
    const tokenEnv = config.runtime_config.auth_token_env;
    const alternatives = tokenEnv ? [tokenEnv] : (agentFor(agents, config.runtime)?.credentialEnv ?? []);
    const envAlternative = alternatives.find((name) => set(env, name));
    let problem: string | undefined;
    try {
      const content = await readFile(path, "utf8");
      if (content.trim() === "") problem = `${path} is empty`;
    } catch (error) {
      const code = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
      problem = code === "ENOENT" ? `${path} does not exist` : `${path} cannot be read (${code})`;
    }
    if (problem === undefined) return { detail: path };
    if (envAlternative) return { detail: `${problem}; using ${envAlternative} instead` };
    return {
      issues: [
        {
          severity: "fail",
          code: "E_AUTH_TOKEN_FILE_MISSING",
          title: "Agent token file missing",
          detail: `runtime_config.auth_token_file: ${problem}`,
          fix:
            alternatives.length > 0
              ? `Mount the token file at ${path}, or set ${alternatives.join(" or ")} instead (auth_token_file is deprecated).`
              : `Mount the token file at ${path} (auth_token_file is deprecated; prefer required_env_any_of).`,
        },
      ],
    };
  },
});

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** `prompt_files`, `shared_context`, `initial_prompt_file` and `idle_prompt_file` exist (missing → warn). */
export const promptFilesCheck = defineCheck({
  name: "prompt-files",
  async run({ config, configDir }) {
    const fields: { field: string; path: string }[] = [
      // Only files the config names: an absent prompt_files means "system-prompt.md if it is there".
      ...(config.prompt_files ?? []).map((path, i) => ({ field: `prompt_files[${i}]`, path })),
      ...config.shared_context.map((path, i) => ({ field: `shared_context[${i}]`, path })),
    ];
    if (config.initial_prompt_file) fields.push({ field: "initial_prompt_file", path: config.initial_prompt_file });
    if (config.idle_prompt_file) fields.push({ field: "idle_prompt_file", path: config.idle_prompt_file });
    const found = await Promise.all(fields.map(async (f) => ({ ...f, ok: await exists(resolve(configDir, f.path)) })));
    const issues = found
      .filter((f) => !f.ok)
      .map(
        (f): CheckIssue => ({
          severity: "warn",
          code: "W_PROMPT_FILE_MISSING",
          title: "Prompt file missing",
          detail: `${f.field} ${f.path}: ${resolve(configDir, f.path)} does not exist`,
          fix: `Add ${f.path} to the config directory, or remove it from ${f.field.replace(/\[\d+\]$/, "")}.`,
        }),
      );
    return { issues, detail: `${found.length - issues.length} of ${found.length} present` };
  },
});

/** Every skill has `skills/<name>/SKILL.md` (missing → warn). */
export const skillsCheck = defineCheck({
  name: "skills",
  async run({ config, configDir }) {
    const found = await Promise.all(
      config.skills.map(async (name) => {
        const file = join(configDir, "skills", name, "SKILL.md");
        return { name, file, ok: (await stat(file).catch(() => undefined))?.isFile() === true };
      }),
    );
    const issues = found
      .filter((s) => !s.ok)
      .map(
        (s): CheckIssue => ({
          severity: "warn",
          code: "W_SKILL_MISSING",
          title: "Skill missing",
          detail: `skill ${JSON.stringify(s.name)}: ${s.file} does not exist`,
          fix: `Add skills/${s.name}/SKILL.md to the config directory, or remove ${s.name} from skills.`,
        }),
      );
    return { issues, detail: config.skills.length === 0 ? "none" : config.skills.join(", ") };
  },
});
