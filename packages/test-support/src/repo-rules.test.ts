// House rules that every later change must keep (CONTRIBUTING.md): files that do one thing, and
// one agent registry (every agent id written only where the registry test below allows).
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { AGENT_CLI_PINS, REPO_ROOT } from "./index.ts";

const MAX_LINES = 400;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Non-test source files under packages/*\/src and apps/*\/src (apps/e2e and test helpers aside). */
async function sourceFiles(): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (/\.(ts|mts|cts)$/.test(entry.name)) files.push(relative(REPO_ROOT, path));
    }
  };
  for (const group of ["packages", "apps"]) {
    for (const pkg of await readdir(join(REPO_ROOT, group), { withFileTypes: true })) {
      if (!pkg.isDirectory() || `${group}/${pkg.name}` === "apps/e2e" || pkg.name === "test-support") continue;
      const src = join(REPO_ROOT, group, pkg.name, "src");
      await walk(src).catch(() => undefined);
    }
  }
  return files.filter((f) => !/\.test(-d)?\.ts$/.test(f) && !/(^|\/)(test-support|testing|test-util)\.ts$/.test(f));
}

describe("repository rules", () => {
  it(`no non-test source file is over ${MAX_LINES} lines (split it at its seams)`, async () => {
    const files = await sourceFiles();
    expect(files.length).toBeGreaterThan(50);
    const long: string[] = [];
    for (const file of files) {
      const lines = (await readFile(join(REPO_ROOT, file), "utf8")).split("\n").length - 1;
      if (lines > MAX_LINES) long.push(`${file}: ${lines} lines`);
    }
    expect(long).toEqual([]);
  });

  it("an agent id is written only in the registry and that agent's own executor, probe and transcript files", async () => {
    const { AGENTS, DEFAULT_AGENT } = (await import(
      pathToFileURL(join(REPO_ROOT, "packages/auth/src/agents.ts")).href
    )) as { AGENTS: readonly { id: string }[]; DEFAULT_AGENT: string };
    expect(AGENTS.length).toBeGreaterThan(1);
    const ids = AGENTS.map((agent) => agent.id);
    /** Where agent `id` (short name: its first word, e.g. `gemini`) may be written. */
    const mayName = (file: string, id: string): boolean => {
      const short = escapeRegExp(id.split("-")[0] ?? id);
      return (
        file === "packages/auth/src/agents.ts" || // the registry
        file === "apps/runtime/src/choose-executor.ts" || // picks the executor for config.runtime
        file === `apps/runtime/src/executors/${id}.ts` || // its executor
        file === `apps/cli/src/commands/dev/${id}.ts` || // its `molecule dev --agent` harness
        new RegExp(`^packages/auth/src/${short}[\\w-]*-probe\\.ts$`).test(file) || // its credential probe
        new RegExp(`^packages/session/src/${short}[\\w-]*-transcripts?\\.ts$`).test(file) || // its transcripts
        file === "packages/session/src/resolve.ts" || // session's resume gate: names the agents it resolves
        (id === DEFAULT_AGENT && file === "packages/config/src/schema.ts") // the default, pinned below
      );
    };
    const files = await sourceFiles();
    const strays: string[] = [];
    for (const file of files) {
      const text = await readFile(join(REPO_ROOT, file), "utf8");
      for (const id of ids) {
        if (new RegExp(`(["'\`])${escapeRegExp(id)}\\1`).test(text) && !mayName(file, id))
          strays.push(`${file}: "${id}"`);
      }
    }
    expect(strays).toEqual([]);
  });

  it("the real CLIs the e2e suites install are the versions the registry says it is tested with", async () => {
    const { getAgent } = (await import(pathToFileURL(join(REPO_ROOT, "packages/auth/src/agents.ts")).href)) as {
      getAgent(id: string): { testedVersion?: string; npmPackage?: string } | undefined;
    };
    for (const [id, pin] of Object.entries(AGENT_CLI_PINS)) {
      expect({ id, version: pin.version, package: pin.package }).toEqual({
        id,
        version: getAgent(id)?.testedVersion,
        package: getAgent(id)?.npmPackage,
      });
    }
  });

  it("the config schema's default runtime is the registry's DEFAULT_AGENT", async () => {
    const { DEFAULT_AGENT } = (await import(pathToFileURL(join(REPO_ROOT, "packages/auth/src/agents.ts")).href)) as {
      DEFAULT_AGENT: string;
    };
    const { workspaceConfigSchema } = (await import(
      pathToFileURL(join(REPO_ROOT, "packages/config/src/schema.ts")).href
    )) as { workspaceConfigSchema: { parse(input: unknown): { runtime: string } } };
    expect(workspaceConfigSchema.parse({}).runtime).toBe(DEFAULT_AGENT);
  });
});
