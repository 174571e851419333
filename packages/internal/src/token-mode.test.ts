import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { looseTokenMode } from "./token-mode.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "internal-mode-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("looseTokenMode", () => {
  it("is undefined for 0600 and 0400", async () => {
    const file = join(dir, ".auth_token");
    await writeFile(file, "t");
    await chmod(file, 0o600);
    expect(await looseTokenMode(file, 0o100600)).toBeUndefined();
    expect(await looseTokenMode(file, 0o400n)).toBeUndefined();
  });

  it("says what is wrong and the fix for a group/world-readable file", async () => {
    const file = join(dir, ".auth_token");
    await writeFile(file, "t");
    expect(await looseTokenMode(file, 0o100644)).toEqual({
      mode: "0644",
      problem: `token file ${file} is mode 0644 (group/world can access it)`,
      fix: `chmod 600 ${file}`,
    });
  });

  it("is undefined for a mounted Secret's 0440 file (nothing to fix)", async () => {
    await mkdir(join(dir, "..2026_12_03"));
    await writeFile(join(dir, "..2026_12_03", ".auth_token"), "t");
    await symlink("..2026_12_03", join(dir, "..data"));
    await symlink("..data/.auth_token", join(dir, ".auth_token"));
    expect(await looseTokenMode(join(dir, ".auth_token"), 0o440)).toBeUndefined();
    expect((await looseTokenMode(join(dir, ".auth_token"), 0o444))?.mode).toBe("0444");
  });
});
