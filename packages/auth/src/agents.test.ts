import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import { checkAgentAuth } from "./agent-auth.js";
import { AGENTS, getAgent, type KnownAgent } from "./agents.js";
import { AuthError } from "./errors.js";

let home: string;
beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), "auth-agents-"));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe("AGENTS", () => {
  it("lists claude-code, codex and gemini-cli with their binaries, claude-code first, then the endpoint agent ollama", () => {
    expect(AGENTS.map((a) => [a.id, a.binary])).toEqual([
      ["claude-code", "claude"],
      ["codex", "codex"],
      ["gemini-cli", "gemini"],
      ["ollama", undefined],
    ]);
  });

  it("an agent has a binary with version args, or an endpoint with a /v1 base URL, never both", () => {
    for (const agent of AGENTS) {
      expect(agent.binary === undefined, agent.id).toBe(agent.endpoint !== undefined);
      if (agent.endpoint) {
        expect(agent.versionArgs, agent.id).toEqual([]);
        expect(agent.endpoint.defaultBaseUrl, agent.id).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
        expect(Object.isFrozen(agent.endpoint), agent.id).toBe(true);
        expect(agent.supportsResume, agent.id).toBe(false);
      }
    }
  });

  it("KnownAgent is the union of the registry's ids (checked by tsc in agents.ts)", () => {
    expectTypeOf(AGENTS[0]?.id).toEqualTypeOf<KnownAgent | undefined>();
  });

  it("auth.api.md spells KnownAgent out with every registry id, so adding an agent changes the report", async () => {
    // `pnpm api:check` keeps the report equal to the build; this keeps the build's KnownAgent a
    // literal union of AGENTS' ids (not `(typeof BUILT_IN)[number]["id"]`, which would hide a new agent).
    const report = await readFile(path.join(import.meta.dirname, "..", "api", "auth.api.md"), "utf8");
    const union = /export type KnownAgent =([^;]*);/.exec(report)?.[1] ?? "";
    const ids = [...union.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    expect(ids.sort()).toEqual(AGENTS.map((agent) => agent.id).sort());
  });

  it("every descriptor is complete: version args, a re-login sentence, a probe; credential env names are env names", () => {
    for (const agent of AGENTS) {
      if (agent.binary !== undefined) expect(agent.versionArgs.length, agent.id).toBeGreaterThan(0);
      // credentialEnv may be empty (an agent that only logs in with files), as its type allows.
      expect(new Set(agent.credentialEnv).size, agent.id).toBe(agent.credentialEnv.length);
      for (const name of agent.credentialEnv) expect(name, agent.id).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(agent.reloginHint, agent.id).toMatch(/^[A-Z].*\.$/);
      expect(typeof agent.authProbe.check, agent.id).toBe("function");
      expect(agent.knownBadVersions ?? [], agent.id).toEqual([]);
    }
    expect(AGENTS.filter((a) => a.supportsResume).map((a) => a.id)).toEqual(["claude-code", "codex", "gemini-cli"]);
    expect(AGENTS.filter((a) => !a.supportsResume).map((a) => a.id)).toEqual(["ollama"]);
  });

  it("is frozen, down to its lists and probes", () => {
    expect(Object.isFrozen(AGENTS)).toBe(true);
    for (const agent of AGENTS) {
      expect(Object.isFrozen(agent)).toBe(true);
      expect(Object.isFrozen(agent.credentialEnv)).toBe(true);
      expect(Object.isFrozen(agent.versionArgs)).toBe(true);
      expect(Object.isFrozen(agent.authProbe)).toBe(true);
    }
    expect(() => (AGENTS as unknown as { push(x: unknown): void }).push({})).toThrow(TypeError);
  });

  it("each probe accepts exactly its credential env vars", async () => {
    for (const agent of AGENTS) {
      // An endpoint agent needs no credentials: ok without any.
      const bare = await checkAgentAuth({ agent: agent.id, home, env: {} });
      expect(bare, agent.id).toMatchObject({ ok: agent.endpoint !== undefined });
      for (const name of agent.credentialEnv) {
        expect(
          await checkAgentAuth({ agent: agent.id, home, env: { [name]: "k" } }),
          `${agent.id} ${name}`,
        ).toMatchObject({ ok: true });
      }
    }
  });

  it("the probe's credential files are where it reads (a re-login there is visible to a watcher)", async () => {
    const claude = getAgent("claude-code");
    const files = claude?.authProbe.credentialFiles?.({ home, env: {} }) ?? [];
    expect(files).toEqual([path.join(home, ".claude", ".credentials.json")]);
    const [file = ""] = files;
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ claudeAiOauth: { accessToken: "at", scopes: ["user:inference"] } }));
    expect(await checkAgentAuth({ agent: "claude-code", home, env: {} })).toMatchObject({ ok: true });
    const elsewhere = path.join(home, "elsewhere");
    expect(claude?.authProbe.credentialFiles?.({ home, env: { CLAUDE_CONFIG_DIR: elsewhere } })).toEqual([
      path.join(elsewhere, ".credentials.json"),
    ]);
  });
});

describe("getAgent", () => {
  it("finds a descriptor by id", () => {
    expect(getAgent("codex")?.binary).toBe("codex");
    expect(getAgent("gemini-cli")).toBe(AGENTS[2]);
  });

  it("returns undefined for an unknown id (the command runtime is not an agent)", () => {
    expect(getAgent("command")).toBeUndefined();
    expect(getAgent("")).toBeUndefined();
    expect(getAgent("toString")).toBeUndefined();
  });
});

describe("checkAgentAuth and the registry", () => {
  it("a built-in probe's not-ok reason ends with the agent's re-login hint", async () => {
    for (const agent of AGENTS) {
      const result = await checkAgentAuth({ agent: agent.id, home, env: {} });
      if (result.ok) continue; // an endpoint agent needs no login
      expect(result.reason.endsWith(`. ${agent.reloginHint}`), agent.id).toBe(true);
    }
  });

  it("an ok reason carries no hint", async () => {
    const result = await checkAgentAuth({ agent: "codex", home, env: { CODEX_API_KEY: "k" } });
    expect(result.reason).toBe("CODEX_API_KEY is set in the environment");
  });

  it("the unknown-agent error lists the registry's ids", async () => {
    const error = await checkAgentAuth({ agent: "my-agent", home, env: {} }).catch((e: unknown) => e);
    expect(AuthError.isInstance(error) && error.code).toBe("E_AUTH_UNKNOWN_AGENT");
    expect((error as Error).message).toContain(AGENTS.map((a) => a.id).join(", "));
  });
});
