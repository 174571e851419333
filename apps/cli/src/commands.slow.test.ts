import { randomUUID } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeProjectDir } from "@molecule/session";
import { OFFLINE_CLAUDE_ENV, REPO_ROOT } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runBin } from "./test-util.js";

let tmp: string;
let home: string;
let env: Record<string, string>;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "molecule-cli-cmd-"));
  home = join(tmp, "home");
  await mkdir(home);
  env = { ...OFFLINE_CLAUDE_ENV, HOME: home, PATH: `${process.env.PATH}` };
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const molecule = (args: string[], extra: Record<string, string> = {}) =>
  runBin(args, { env: { ...env, ...extra }, cwd: tmp });

describe("molecule auth check", () => {
  it("not logged in → exit 1 with the reason; the token file is described", async () => {
    const run = await molecule(["auth", "check", "--config", join(REPO_ROOT, "examples/workspace")]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("[FAIL] Agent auth (claude-code): missing");
    expect(run.stdout).toContain("absent (the platform issues one at the first register)");
  });

  it("a mounted Secret's 0440 token file (the kubelet's ..data layout) is ok, not loose-mode", async () => {
    const configs = join(tmp, "configs");
    const data = join(configs, "..2026_12_03_12_00_00.1");
    await mkdir(data, { recursive: true });
    await writeFile(join(configs, "config.yaml"), "runtime: claude-code\n");
    await writeFile(join(data, ".auth_token"), "platform-secret-token\n");
    await chmod(join(data, ".auth_token"), 0o440);
    await symlink("..2026_12_03_12_00_00.1", join(configs, "..data"));
    await symlink("..data/.auth_token", join(configs, ".auth_token"));
    const json = await molecule(["auth", "check", "--config", configs, "--json"], {
      ANTHROPIC_API_KEY: "sk-ant-api03-secretvalue",
    });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, platformToken: { state: "ok", mode: "0440" } });
  });

  it("an API key passes and is never printed; a loose token file warns; --json", async () => {
    const configs = join(tmp, "configs");
    await mkdir(configs);
    await writeFile(join(configs, "config.yaml"), "runtime: claude-code\n");
    await writeFile(join(configs, ".auth_token"), "platform-secret-token\n");
    await chmod(join(configs, ".auth_token"), 0o644);
    const run = await molecule(["auth", "check", "--config", configs], {
      ANTHROPIC_API_KEY: "sk-ant-api03-secretvalue",
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("[ OK ] Agent auth (claude-code): ok via api-key-env");
    expect(run.stdout).toContain("[WARN] Platform token");
    expect(run.stdout).toContain("chmod 600");
    const json = await molecule(["auth", "check", "--config", configs, "--json"], {
      ANTHROPIC_API_KEY: "sk-ant-api03-secretvalue",
    });
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      agent: { name: "claude-code", state: "ok" },
      platformToken: { state: "loose-mode", mode: "0644" },
    });
    for (const out of [run.stdout, json.stdout]) {
      expect(out).not.toContain("secretvalue");
      expect(out).not.toContain("platform-secret-token");
    }
  });

  it("codex: reads the agent's home where the daemon puts it (<state dir>/agents/codex); with base_url only CODEX_API_KEY counts", async () => {
    const configs = join(tmp, "configs");
    const state = join(tmp, "state");
    await mkdir(join(state, "agents", "codex"), { recursive: true });
    await mkdir(configs);
    await writeFile(join(configs, "config.yaml"), "runtime: codex\n");
    await writeFile(
      join(state, "agents", "codex", "auth.json"),
      '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-secretvalue"}',
    );
    const ok = await molecule(["auth", "check", "--config", configs, "--json"], { MOLECULE_STATE_DIR: state });
    expect(JSON.parse(ok.stdout)).toMatchObject({ agent: { name: "codex", state: "ok" } });
    expect(ok.stdout).not.toContain("secretvalue");

    await writeFile(
      join(configs, "config.yaml"),
      "runtime: codex\nruntime_config:\n  base_url: http://127.0.0.1:9/v1\n",
    );
    const viaGateway = await molecule(["auth", "check", "--config", configs, "--json"], { MOLECULE_STATE_DIR: state });
    expect(viaGateway.code).toBe(1); // the gateway's provider reads CODEX_API_KEY only
    const withKey = await molecule(["auth", "check", "--config", configs, "--json"], {
      MOLECULE_STATE_DIR: state,
      CODEX_API_KEY: "sk-other-secret",
    });
    expect(JSON.parse(withKey.stdout)).toMatchObject({ ok: true, agent: { name: "codex", state: "ok" } });
  });

  it("an empty token file → exit 1", async () => {
    await writeFile(join(tmp, ".auth_token"), "\n", { mode: 0o600 });
    await writeFile(join(tmp, "config.yaml"), "runtime: claude-code\n");
    const run = await molecule(["auth", "check", "--config", tmp], { ANTHROPIC_API_KEY: "k" });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("[FAIL] Platform token");
  });
});

describe("molecule session check", () => {
  it("found → exit 0 with the path; missing and invalid → exit 1 with the reason", async () => {
    const id = randomUUID();
    const cwd = join(tmp, "work");
    await mkdir(cwd);
    const found = await molecule(["session", "check", id, "--cwd", cwd]);
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`Session ${id} in ${cwd}: missing`);
    const project = join(home, ".claude", "projects", await encodeProjectDir(cwd));
    await mkdir(project, { recursive: true });
    await writeFile(join(project, `${id}.jsonl`), '{"type":"user"}\n');
    const ok = await molecule(["session", "check", id, "--cwd", cwd, "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      resumable: true,
      reason: "found",
      path: join(project, `${id}.jsonl`),
    });
    const text = await molecule(["session", "check", id, "--cwd", cwd]);
    expect(text.stdout).toContain(`Transcript: ${join(project, `${id}.jsonl`)}`);
    const invalid = await molecule(["session", "check", "../../etc/passwd", "--cwd", cwd]);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toContain("invalid-id");
  });

  it("no id → usage error (exit 2)", async () => {
    const run = await molecule(["session", "check"]);
    expect(run.code).toBe(2);
  });
});
