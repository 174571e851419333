import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthError } from "./errors.js";
import { createTokenStore, type TokenStore } from "./token-store.js";
import { tokensEqual } from "./tokens-equal.js";

const T1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const T2 = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

let dir: string;
let file: string;
const stores: TokenStore[] = [];
const store = (opts: Omit<Parameters<typeof createTokenStore>[0], "configsDir"> = {}) => {
  const s = createTokenStore({ configsDir: dir, env: {}, ...opts });
  stores.push(s);
  return s;
};

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "auth-store-"));
  file = path.join(dir, ".auth_token");
});
afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  await rm(dir, { recursive: true, force: true });
});

describe("get", () => {
  it("returns undefined for a missing file and sees a later write", async () => {
    const s = store();
    expect(await s.get()).toBeUndefined();
    await writeFile(file, `${T1}\n`);
    expect(await s.get()).toBe(T1);
  });

  it("treats an empty or whitespace-only file as no token, and does not cache it", async () => {
    const s = store();
    await writeFile(file, "");
    expect(await s.get()).toBeUndefined();
    await writeFile(file, "  \n\t ");
    expect(await s.get()).toBeUndefined();
    await writeFile(file, T1);
    expect(await s.get()).toBe(T1);
  });

  it("trims surrounding whitespace", async () => {
    await writeFile(file, `  ${T1}\r\n`);
    expect(await store().get()).toBe(T1);
  });

  it("serves from cache while (ino, size, mtime, ctime) is unchanged — no re-read", async () => {
    await writeFile(file, T1);
    let opens = 0;
    const s = store({
      fs: {
        open: async (p, flags, mode) => {
          opens += 1;
          const fsp = await import("node:fs/promises");
          return fsp.open(p, flags, mode);
        },
      },
    });
    expect(await s.get()).toBe(T1);
    expect(await s.get()).toBe(T1);
    expect(await s.get()).toBe(T1);
    expect(opens).toBe(1);
  });

  it("sees a same-size rewrite with an identical mtime (replaced by rename → new inode)", async () => {
    await writeFile(file, T1);
    const before = await stat(file);
    const s = store();
    expect(await s.get()).toBe(T1);
    const tmp = path.join(dir, "next");
    await writeFile(tmp, T2);
    await utimes(tmp, before.atime, before.mtime);
    await rename(tmp, file);
    const after = await stat(file, { bigint: true });
    expect(after.size).toBe(BigInt(T1.length));
    expect(await s.get()).toBe(T2);
  });

  it("sees an in-place same-size rewrite with the mtime forced back (ctime moves)", async () => {
    await writeFile(file, T1);
    const before = await stat(file);
    const s = store();
    expect(await s.get()).toBe(T1);
    await writeFile(file, T2);
    await utimes(file, before.atime, before.mtime);
    expect(await s.get()).toBe(T2);
  });

  it("rejects with E_TOKEN_READ when the path is a directory, without the content in the message", async () => {
    await mkdir(file);
    const error = await store()
      .get()
      .catch((e: unknown) => e);
    expect(AuthError.isInstance(error)).toBe(true);
    expect((error as AuthError).code).toBe("E_TOKEN_READ");
    expect((error as AuthError).message).toContain(file);
  });

  it("rejects with E_TOKEN_INVALID for a token with inner whitespace, never quoting it", async () => {
    await writeFile(file, `${T1}\n${T2}\n`);
    const error = await store()
      .get()
      .catch((e: unknown) => e);
    expect((error as AuthError).code).toBe("E_TOKEN_INVALID");
    expect(String((error as Error).message)).not.toContain(T1);
    expect(String((error as Error).message)).not.toContain(T2);
  });
});

describe("refreshFromDisk", () => {
  it("reports changed=false when the token is the same, true after a rotation", async () => {
    await writeFile(file, T1);
    const s = store();
    expect(await s.get()).toBe(T1);
    expect(await s.refreshFromDisk()).toEqual({ token: T1, changed: false });
    await writeFile(file, T2);
    expect(await s.refreshFromDisk()).toEqual({ token: T2, changed: true });
    expect(await s.refreshFromDisk()).toEqual({ token: T2, changed: false });
  });

  it("compares with the token the failed request used, when given", async () => {
    await writeFile(file, T2);
    const s = store();
    expect(await s.get()).toBe(T2); // the store already saw T2 (e.g. via the watcher)…
    expect(await s.refreshFromDisk(T1)).toEqual({ token: T2, changed: true }); // …but the request carried T1
    expect(await s.refreshFromDisk(T2)).toEqual({ token: T2, changed: false });
  });

  it("reports a deleted file as undefined and changed", async () => {
    await writeFile(file, T1);
    const s = store();
    await s.get();
    await rm(file);
    expect(await s.refreshFromDisk()).toEqual({ token: undefined, changed: true });
  });
});

describe("save", () => {
  it("writes the trimmed token with mode 0600 and get() returns it", async () => {
    const s = store();
    await s.save(`  ${T1}\n`);
    expect((await readFile(file, "utf8")).trim()).toBe(T1);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await s.get()).toBe(T1);
  });

  it("refuses an empty or whitespace-only token with E_TOKEN_EMPTY and keeps the old one", async () => {
    await writeFile(file, T1, { mode: 0o600 });
    const s = store();
    for (const bad of ["", "   \n"]) {
      const error = await s.save(bad).catch((e: unknown) => e);
      expect(AuthError.isInstance(error)).toBe(true);
      expect((error as AuthError).code).toBe("E_TOKEN_EMPTY");
    }
    expect(await readFile(file, "utf8")).toBe(T1);
  });

  it("does not rewrite an identical token (mtime and inode unchanged)", async () => {
    const s = store();
    await s.save(T1);
    const past = new Date(Date.now() - 60_000);
    await utimes(file, past, past);
    const before = await stat(file, { bigint: true });
    await s.save(` ${T1} `);
    const after = await stat(file, { bigint: true });
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(after.ino).toBe(before.ino);
  });

  it("tightens a looser mode to 0600 even when the token is identical", async () => {
    await writeFile(file, T1);
    await chmod(file, 0o644);
    const before = await stat(file, { bigint: true });
    await store().save(T1);
    const after = await stat(file, { bigint: true });
    expect(Number(after.mode & 0o777n)).toBe(0o600);
    expect(after.ino).toBe(before.ino);
  });

  it("replaces a pre-existing 0644 file with a new token at 0600", async () => {
    await writeFile(file, T1);
    await chmod(file, 0o644);
    await store().save(T2);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readFile(file, "utf8")).trim()).toBe(T2);
  });

  it("creates a missing configs directory (0700)", async () => {
    const nested = path.join(dir, "configs");
    const s = createTokenStore({ configsDir: nested, env: {} });
    await s.save(T1);
    expect((await readFile(path.join(nested, ".auth_token"), "utf8")).trim()).toBe(T1);
    expect((await stat(nested)).mode & 0o777).toBe(0o700);
  });

  it("leaves no temp file behind", async () => {
    const s = store();
    await s.save(T1);
    await s.save(T2);
    const { readdir } = await import("node:fs/promises");
    expect(await readdir(dir)).toEqual([".auth_token"]);
  });
});

describe("headers", () => {
  it("is {} without a token and a Bearer header with one", async () => {
    const s = store();
    expect(await s.headers()).toEqual({});
    await s.save(T1);
    expect(await s.headers()).toEqual({ Authorization: `Bearer ${T1}` });
  });

  it("adds X-Molecule-Org-Id when MOLECULE_ORG_ID is set", async () => {
    const s = store({ env: { MOLECULE_ORG_ID: "org-7" } });
    expect(await s.headers()).toEqual({ "X-Molecule-Org-Id": "org-7" });
    await s.save(T1);
    expect(await s.headers()).toEqual({ Authorization: `Bearer ${T1}`, "X-Molecule-Org-Id": "org-7" });
  });

  it("ignores an empty MOLECULE_ORG_ID", async () => {
    expect(await store({ env: { MOLECULE_ORG_ID: " " } }).headers()).toEqual({});
  });

  it("reads MOLECULE_ORG_ID from process.env by default", async () => {
    const previous = process.env.MOLECULE_ORG_ID;
    process.env.MOLECULE_ORG_ID = "org-from-process";
    try {
      const s = createTokenStore({ configsDir: dir });
      expect(await s.headers()).toEqual({ "X-Molecule-Org-Id": "org-from-process" });
    } finally {
      if (previous === undefined) delete process.env.MOLECULE_ORG_ID;
      else process.env.MOLECULE_ORG_ID = previous;
    }
  });

  it("selfSourceHeaders adds X-Workspace-ID", async () => {
    const s = store({ env: { MOLECULE_ORG_ID: "org-7" } });
    await s.save(T1);
    expect(await s.selfSourceHeaders("ws-1")).toEqual({
      Authorization: `Bearer ${T1}`,
      "X-Molecule-Org-Id": "org-7",
      "X-Workspace-ID": "ws-1",
    });
    const error = await s.selfSourceHeaders("").catch((e: unknown) => e);
    expect((error as AuthError).code).toBe("E_WORKSPACE_ID_EMPTY");
  });
});

describe("options", () => {
  it("requires configsDir", () => {
    expect(() => createTokenStore({ configsDir: "" })).toThrow(expect.objectContaining({ code: "E_AUTH_BAD_OPTIONS" }));
  });
});

describe("tokensEqual", () => {
  it("compares tokens", () => {
    expect(tokensEqual(T1, T1)).toBe(true);
    expect(tokensEqual(T1, T2)).toBe(false);
    expect(tokensEqual(T1, `${T1}x`)).toBe(false);
    expect(tokensEqual("", "")).toBe(false);
    expect(tokensEqual(undefined, undefined)).toBe(false);
    expect(tokensEqual(T1, undefined)).toBe(false);
  });
});
