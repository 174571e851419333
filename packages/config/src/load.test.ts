import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "molecule-config-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = (text: string) => writeFile(join(dir, "config.yaml"), text);

async function loadError(env: Record<string, string> = {}): Promise<ConfigError> {
  try {
    await loadConfig(dir, { env });
  } catch (error) {
    if (ConfigError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("loadConfig resolved; expected a ConfigError");
}

describe("loadConfig", () => {
  it("fills every default for an empty file", async () => {
    await write("");
    const { config, warnings } = await loadConfig(dir, { env: {} });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      name: "Workspace",
      description: "",
      role: "",
      version: "1.0.0",
      tier: 1,
      runtime: "claude-code",
      runtime_config: { args: [], required_env: [], required_env_any_of: [] },
      idle_interval_seconds: 600,
      skills: [],
      plugins: [],
      tools: [],
      shared_context: [],
      a2a: { port: 8000, streaming: true, push_notifications: false, max_connections: 256 },
      max_concurrent_tasks: 1,
      queue_size: 16,
      delegation: { retry_attempts: 3, retry_delay: 5, timeout: 120, escalate: true, poll_interval_seconds: 30 },
      heartbeat: { interval_seconds: 30, jitter: 0.1, ttl_seconds: 180 },
      sessions: { max_contexts: 256 },
      task_budget: 0,
    });
    expect(config.effort).toBeUndefined();
    expect(config.prompt_files).toBeUndefined(); // the runtime's default is system-prompt.md, if present
    expect(config.model).toBeUndefined();
    expect(config.runtime_config.timeout).toBeUndefined(); // the runtime picks the agent's default
    expect(config.runtime_config.base_url).toBeUndefined();
  });

  it("runtime_config.base_url must be an http(s) URL", async () => {
    await write("runtime_config:\n  base_url: http://127.0.0.1:8080/v1\n");
    expect((await loadConfig(dir, { env: {} })).config.runtime_config.base_url).toBe("http://127.0.0.1:8080/v1");
    await write("runtime_config:\n  base_url: ftp://example.com\n");
    const error = await loadError();
    expect(error.problems.map((p) => p.field)).toEqual(["runtime_config.base_url"]);
    expect(error.message).toContain("http(s) URL");
  });

  it("runtime_config.max_reply_bytes: unset by default (the runtime's 8 MiB), a whole number from 1024 to 256 MiB", async () => {
    await write("runtime: claude-code\n");
    expect((await loadConfig(dir, { env: {} })).config.runtime_config.max_reply_bytes).toBeUndefined();
    await write("runtime_config:\n  max_reply_bytes: 65536\n");
    expect((await loadConfig(dir, { env: {} })).config.runtime_config.max_reply_bytes).toBe(65536);
    await write("runtime_config:\n  max_reply_bytes: 100\n");
    expect((await loadError()).problems.map((p) => p.field)).toEqual(["runtime_config.max_reply_bytes"]);
  });

  it("runtime_config.max_history_messages: unset by default (the runtime's 50), a whole number of at least 2", async () => {
    await write("runtime: ollama\nruntime_config:\n  model: qwen3\n");
    expect((await loadConfig(dir, { env: {} })).config.runtime_config.max_history_messages).toBeUndefined();
    await write("runtime: ollama\nruntime_config:\n  max_history_messages: 8\n");
    expect((await loadConfig(dir, { env: {} })).config.runtime_config.max_history_messages).toBe(8);
    await write("runtime: ollama\nruntime_config:\n  max_history_messages: 1\n");
    expect((await loadError()).problems.map((p) => p.field)).toEqual(["runtime_config.max_history_messages"]);
  });

  it("runtime_config.module names the adapter module; an empty one is refused with its field", async () => {
    await write('runtime: adapter\nruntime_config:\n  module: "@acme/molecule-adapter-echo"\n');
    expect((await loadConfig(dir, { env: {} })).config.runtime_config.module).toBe("@acme/molecule-adapter-echo");
    await write('runtime: adapter\nruntime_config:\n  module: ""\n');
    expect((await loadError()).problems.map((p) => p.field)).toEqual(["runtime_config.module"]);
  });

  it("loads the example workspace without warnings", async () => {
    const { config, warnings } = await loadConfig(resolve(__dirname, "../../../examples/workspace"), { env: {} });
    expect(warnings).toEqual([]);
    expect(config.name).toBe("Example Engineer");
    expect(config.skills).toEqual(["code-review"]);
    expect(config.runtime_config.timeout).toBe(600);
  });

  it("keeps given values and nested defaults", async () => {
    await write("runtime: codex\na2a:\n  port: 0\nruntime_config:\n  required_env_any_of: [[A, B]]\neffort: xhigh\n");
    const { config } = await loadConfig(dir, { env: {} });
    expect(config.runtime).toBe("codex");
    expect(config.a2a).toEqual({
      port: 0,
      streaming: true,
      push_notifications: false,
      max_connections: 256,
      auth: "none",
      metrics_auth: false,
      allow_unauthenticated: false,
      persist_tasks: true,
      stream_thinking: false,
    });
    expect(config.runtime_config.required_env_any_of).toEqual([["A", "B"]]);
    expect(config.effort).toBe("xhigh");
  });

  it("MOLECULE_ADAPTER_MODULE, when non-empty, runs that adapter whatever runtime the file names", async () => {
    await write("runtime: codex\nruntime_config:\n  module: ./from-file.js\n");
    const env = { MOLECULE_ADAPTER_MODULE: " @acme/molecule-adapter-echo " };
    const { config } = await loadConfig(dir, { env });
    expect([config.runtime, config.runtime_config.module]).toEqual(["adapter", "@acme/molecule-adapter-echo"]);
    const kept = (await loadConfig(dir, { env: { MOLECULE_ADAPTER_MODULE: " " } })).config;
    expect([kept.runtime, kept.runtime_config.module]).toEqual(["codex", "./from-file.js"]);
  });

  it("MODEL_PROVIDER overrides model only when non-empty", async () => {
    await write("model: sonnet\n");
    expect((await loadConfig(dir, { env: { MODEL_PROVIDER: "opus" } })).config.model).toBe("opus");
    expect((await loadConfig(dir, { env: { MODEL_PROVIDER: "  " } })).config.model).toBe("sonnet");
    expect((await loadConfig(dir, { env: {} })).config.model).toBe("sonnet");
  });

  it("a missing file is E_CONFIG_MISSING naming the file and the fix", async () => {
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_MISSING");
    expect(error.file).toBe(join(dir, "config.yaml"));
    expect(error.message).toContain(join(dir, "config.yaml"));
    expect(error.message).toContain("WORKSPACE_CONFIG_PATH");
  });

  it("a YAML syntax error is E_CONFIG_YAML with line and column", async () => {
    await write("name: ok\nrole: [engineer\ntier: 1\n");
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_YAML");
    expect(error.line).toBeGreaterThanOrEqual(2);
    expect(error.column).toBeGreaterThanOrEqual(1);
    expect(error.message).toMatch(/line \d+, column \d+/);
  });

  it("duplicate keys are a YAML error", async () => {
    await write("name: a\nname: b\n");
    expect((await loadError()).code).toBe("E_CONFIG_YAML");
  });

  it.each([
    ["a2a: null\n", "a2a", /expected a mapping.*got null/],
    ["skills: foo\n", "skills", /expected a list.*got the string "foo"/],
    ["a2a:\n  port: abc\n", "a2a.port", /expected a number, got the string "abc"/],
    ["a2a:\n  port: 70000\n", "a2a.port", /at most 65535/],
    ["tier: 5\n", "tier", /at most 4/],
    ["idle_interval_seconds: 59\n", "idle_interval_seconds", /at least 60/],
    ["task_budget: 19999\n", "task_budget", /0 \(no budget\) or at least 20000/],
    ["effort: huge\n", "effort", /one of low, medium, high, xhigh, max/],
    ["heartbeat:\n  jitter: 2\n", "heartbeat.jitter", /at most 1/],
    ["runtime_config:\n  required_env_any_of: [A]\n", "runtime_config.required_env_any_of.0", /expected a list/],
    ["max_concurrent_tasks: 0\n", "max_concurrent_tasks", /at least 1/],
  ])("%j is a clear field error", async (yaml, field, pattern) => {
    await write(`name: x\n${yaml}`);
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_INVALID");
    const problem = error.problems.find((p) => p.field === field);
    expect(problem?.message).toMatch(pattern);
    const line = 1 + yaml.trimEnd().split("\n").length; // the field's own line
    expect(problem?.line).toBe(line);
    expect(error.message).toContain(`line ${line}, ${field}:`);
    expect(error.message).toContain("Fix:");
    expect(error.message).not.toMatch(/\n\s+at /); // no stack trace in the message
  });

  it("reports every problem at once", async () => {
    await write("tier: 0\nskills: 3\n");
    const error = await loadError();
    expect(error.problems.map((p) => p.field)).toEqual(["tier", "skills"]);
    expect(error.message).toContain("2 problems");
  });

  it("a top level that is not a mapping is E_CONFIG_INVALID", async () => {
    await write("- a\n- b\n");
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_INVALID");
    expect(error.message).toContain("mapping");
  });

  it.each([
    ["prompt_files: [../../etc/passwd]\n", "prompt_files.0"],
    ["prompt_files: [/etc/passwd]\n", "prompt_files.0"],
    ["shared_context: [ok.md, ../secret.md]\n", "shared_context.1"],
    ["skills: [../../etc]\n", "skills.0"],
    ["initial_prompt_file: /etc/shadow\n", "initial_prompt_file"],
    ["idle_prompt_file: sub/../../x.md\n", "idle_prompt_file"],
  ])("%j escapes the config directory (E_CONFIG_PATH_ESCAPE)", async (yaml, field) => {
    await write(yaml);
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_PATH_ESCAPE");
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.field).toBe(field);
    expect(error.problems[0]?.code).toBe("E_CONFIG_PATH_ESCAPE");
    expect(error.message).toContain(field);
  });

  it("paths inside the directory are fine, the deprecated auth_token_file is exempt", async () => {
    await write(
      "prompt_files: [system-prompt.md, docs/../more.md]\nskills: [a]\nruntime_config:\n  auth_token_file: /run/secrets/token\n",
    );
    const { config, warnings } = await loadConfig(dir, { env: {} });
    expect(config.prompt_files).toEqual(["system-prompt.md", "docs/../more.md"]);
    expect(warnings.map((w) => w.field)).toEqual(["runtime_config.auth_token_file"]);
    expect(warnings[0]?.code).toBe("W_CONFIG_DEPRECATED");
  });

  it("a symlink leading outside the directory is an escape", async () => {
    const outside = await mkdtemp(join(tmpdir(), "molecule-outside-"));
    try {
      await writeFile(join(outside, "secret.md"), "x");
      await symlink(join(outside, "secret.md"), join(dir, "prompt.md"));
      await write("prompt_files: [prompt.md]\n");
      const error = await loadError();
      expect(error.code).toBe("E_CONFIG_PATH_ESCAPE");
      expect(error.message).toContain("link");
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("a symlink staying inside (Kubernetes ConfigMap layout) is fine", async () => {
    await mkdir(join(dir, "..data"));
    await writeFile(join(dir, "..data", "system-prompt.md"), "hi");
    await symlink("..data/system-prompt.md", join(dir, "system-prompt.md"));
    await write("prompt_files: [system-prompt.md]\n");
    await expect(loadConfig(dir, { env: {} })).resolves.toBeDefined();
  });

  it("unknown keys are kept and warned about, with a did-you-mean hint", async () => {
    await write("name: x\npromt_files: [a.md]\ncolour: blue\nport: 9000\na2a:\n  streeming: false\n");
    const { config, warnings } = await loadConfig(dir, { env: {} });
    expect((config as Record<string, unknown>).promt_files).toEqual(["a.md"]);
    expect(warnings.every((w) => w.code === "W_CONFIG_UNKNOWN_KEY")).toBe(true);
    const byField = Object.fromEntries(warnings.map((w) => [w.field, w]));
    expect(byField.promt_files?.message).toContain("did you mean prompt_files?");
    expect(byField.promt_files?.line).toBe(2);
    expect(byField.colour?.message).not.toContain("did you mean");
    expect(byField.port?.message).toContain("did you mean a2a.port?");
    expect(byField["a2a.streeming"]?.message).toContain("did you mean streaming?");
    expect(byField["a2a.streeming"]?.line).toBe(6);
  });
});
