import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isMountedSecretFile } from "./secret-mount.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "internal-secret-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The layout the kubelet makes: `<dir>/..<timestamp>/<key>`, `..data -> ..<timestamp>`, `<key> -> ..data/<key>`. */
async function secretLayout(key: string): Promise<string> {
  const volume = await mkdtemp(join(dir, "volume-"));
  await mkdir(join(volume, "..2026_11_25_14_00_00.1"));
  await writeFile(join(volume, "..2026_11_25_14_00_00.1", key), "token\n");
  await symlink("..2026_11_25_14_00_00.1", join(volume, "..data"));
  await symlink(`..data/${key}`, join(volume, key));
  return join(volume, key);
}

describe("isMountedSecretFile", () => {
  it("is true for a Secret's file with no world bits (0440 as the kubelet makes it)", async () => {
    expect(await isMountedSecretFile(await secretLayout(".auth_token"), 0o440)).toBe(true);
    expect(await isMountedSecretFile(await secretLayout(".other"), 0o100400n)).toBe(true);
  });

  it("is false when the world can read it, even in a Secret", async () => {
    expect(await isMountedSecretFile(await secretLayout(".auth_token"), 0o444)).toBe(false);
  });

  it("is false for a plain file or a symlink elsewhere", async () => {
    await writeFile(join(dir, "plain"), "x");
    expect(await isMountedSecretFile(join(dir, "plain"), 0o440)).toBe(false);
    await symlink("plain", join(dir, "link"));
    expect(await isMountedSecretFile(join(dir, "link"), 0o440)).toBe(false);
    expect(await isMountedSecretFile(join(dir, "absent"), 0o440)).toBe(false);
  });
});
