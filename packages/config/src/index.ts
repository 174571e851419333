export type { ConfigErrorCode, ConfigFieldProblem } from "./errors.js";
export { ConfigError } from "./errors.js";
export type { ConfigWarning, LoadConfigOptions, LoadedConfig } from "./load.js";
export { loadConfig } from "./load.js";
export type { WorkspaceConfig, WorkspaceConfigInput } from "./schema.js";
export { EFFORT_LEVELS, workspaceConfigSchema } from "./schema.js";
export type { LogLevel, ResolvedSettings, Settings, SettingsIssue } from "./settings.js";
export { resolveAdvertiseUrl, resolveSettings } from "./settings.js";
