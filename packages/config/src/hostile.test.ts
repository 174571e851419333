import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "molecule-config-hostile-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = (text: string) => writeFile(join(dir, "config.yaml"), text);

async function loadError(): Promise<ConfigError> {
  try {
    await loadConfig(dir, { env: {} });
  } catch (error) {
    if (ConfigError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("loadConfig resolved; expected a ConfigError");
}

describe("hostile configs are refused with a clear error", () => {
  it("a 10 MB description is refused as too large, naming the limit and the fix", async () => {
    await write(`name: big\ndescription: "${"x".repeat(10 * 1024 * 1024)}"\n`);
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_TOO_LARGE");
    expect(error.message).toContain("1024 KiB");
    expect(error.fix).toMatch(/prompt files/);
  });

  it("a file just under 1 MiB still loads", async () => {
    const description = "y".repeat(1024 * 1024 - 64);
    await write(`name: ok\ndescription: ${description}\n`);
    const { config } = await loadConfig(dir, { env: {} });
    expect(config.description).toHaveLength(description.length);
  });

  it("more than 10,000 keys are refused at the key that breaks the limit", async () => {
    const lines = Array.from({ length: 10_001 }, (_, i) => `  k${i}: 1`);
    await write(`name: many\nextra:\n${lines.join("\n")}\n`);
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_TOO_LARGE");
    expect(error.message).toMatch(/more than 10000 keys/);
    // name (1) + extra (1) + 9,998 nested keys are fine; the 10,001st key is on line 10,001.
    expect(error.line).toBe(10_001);
  });

  it("10,000 keys load (and each unknown one is warned about)", async () => {
    const lines = Array.from({ length: 9_998 }, (_, i) => `  k${i}: 1`);
    await write(`name: many\nextra:\n${lines.join("\n")}\n`);
    const { warnings } = await loadConfig(dir, { env: {} });
    expect(warnings.map((w) => w.field)).toEqual(["extra"]);
  });

  it("flow nesting deeper than 64 is refused before parsing", async () => {
    const depth = 400_000;
    await write(`name: deep\ntools: ${"[".repeat(depth)}${"]".repeat(depth)}\n`);
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_TOO_LARGE");
    expect(error.message).toMatch(/nesting deeper than 64/);
    expect(error.line).toBe(2);
    expect(error.column).toBe(8 + 64);
  });

  it("block nesting deeper than 64 is refused; 64 levels are fine", async () => {
    const nest = (levels: number) => {
      let text = "extra:\n";
      for (let i = 1; i < levels; i += 1) text += `${"  ".repeat(i)}k${i}:\n`;
      return `${text}${"  ".repeat(levels)}leaf: 1\n`;
    };
    await write(nest(63));
    await expect(loadConfig(dir, { env: {} })).resolves.toMatchObject({ config: { name: "Workspace" } });
    await write(nest(70));
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_TOO_LARGE");
    expect(error.message).toMatch(/nesting deeper than 64/);
  });

  it("more than 100 aliases are refused at the alias that breaks the limit", async () => {
    const aliases = Array.from({ length: 101 }, (_, i) => `  r${i}: *n`);
    await write(`name: &n x\nextra:\n${aliases.join("\n")}\n`);
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_TOO_LARGE");
    expect(error.message).toMatch(/more than 100 aliases/);
    expect(error.line).toBe(103);
  });

  it("aliases of aliases that multiply (a billion-laughs file) are refused", async () => {
    const anchors = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 12; i += 1) {
      anchors.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(",")}]`);
    }
    await write(`name: laughs\nextra:\n${anchors.map((l) => `  ${l}`).join("\n")}\n`);
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_TOO_LARGE");
    expect(error.message).toMatch(/aliases expand too far/);
  });

  it("a few aliases are fine", async () => {
    await write("name: &n anchored\nrole: *n\n");
    const { config } = await loadConfig(dir, { env: {} });
    expect(config.role).toBe("anchored");
  });

  it("a duplicate key is still a YAML error with its line", async () => {
    await write("name: a\nrole: r\nname: b\n");
    const error = await loadError();
    expect(error.code).toBe("E_CONFIG_YAML");
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/"name" appears twice/);
  });
});
