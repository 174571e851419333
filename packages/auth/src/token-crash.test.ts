import * as fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sinkLogger } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AuthError } from "./errors.js";
import type { TokenFileHandle, TokenStoreFs } from "./token-fs.js";
import { createTokenStore } from "./token-store.js";

const OLD = "OLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDO";
const NEW = "NEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWN";

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), "auth-crash-"));
  file = path.join(dir, ".auth_token");
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

type Mode = "error" | "crash";

/**
 * The real `node:fs/promises`, with a fault injected at the `failAt`-th call (1-based) through the
 * store's `fs` seam. "error": that one call fails, later calls work (cleanup runs). "crash": that call
 * and every later one fail — the process is as good as dead from then on. A failing write first
 * writes half of its data, like a write cut short.
 */
function faultyFs(failAt: number, mode: Mode) {
  const steps: string[] = [];
  let calls = 0;
  let injected = false;
  const gate = (step: string) => {
    calls += 1;
    steps.push(step);
    if (calls === failAt || (mode === "crash" && calls > failAt)) {
      injected = true;
      throw Object.assign(new Error(`injected failure at ${step}`), { code: "EIO" });
    }
  };
  const wrapHandle = (handle: fsp.FileHandle, label: string): TokenFileHandle => ({
    async stat(options) {
      gate(`${label}.stat`);
      return handle.stat(options);
    },
    async readFile(options) {
      gate(`${label}.readFile`);
      return handle.readFile(options);
    },
    async writeFile(data, options) {
      try {
        gate(`${label}.write`);
      } catch (error) {
        await handle.writeFile(data.slice(0, Math.floor(data.length / 2)), options);
        throw error;
      }
      await handle.writeFile(data, options);
    },
    async chmod(m) {
      gate(`${label}.chmod`);
      await handle.chmod(m);
    },
    async sync() {
      gate(`${label}.fsync`);
      await handle.sync();
    },
    async close() {
      try {
        gate(`${label}.close`);
      } finally {
        await handle.close(); // the kernel closes descriptors of a dead process too
      }
    },
  });
  const fs: Partial<TokenStoreFs> = {
    async stat(p, options) {
      gate(`stat ${path.basename(p)}`);
      return fsp.stat(p, options);
    },
    async open(p, flags, m) {
      const label = p === dir ? "dir" : p === file ? "token" : "tmp";
      gate(`open ${label}`);
      return wrapHandle(await fsp.open(p, flags, m), label);
    },
    async rename(from, to) {
      gate("rename");
      await fsp.rename(from, to);
    },
    async chmod(p, m) {
      gate("chmod token");
      await fsp.chmod(p, m);
    },
    async unlink(p) {
      gate("unlink tmp");
      await fsp.unlink(p);
    },
    async mkdir(p, options) {
      gate("mkdir");
      return fsp.mkdir(p, options);
    },
  };
  return { fs, steps, injected: () => injected };
}

describe.each<[Mode, string | undefined]>([
  ["error", OLD],
  ["crash", OLD],
  ["error", undefined],
  ["crash", undefined],
])("save with a fault at each step in turn (%s, old token: %s)", (mode, old) => {
  it("leaves the old or the new token, never an empty or partial file", async () => {
    const stepsSeen = new Set<string>();
    let completed = false;
    for (let failAt = 1; failAt < 50 && !completed; failAt += 1) {
      await fsp.rm(dir, { recursive: true, force: true });
      await fsp.mkdir(dir, { mode: 0o700 });
      if (old !== undefined) await fsp.writeFile(file, `${old}\n`, { mode: 0o600 });
      const faulty = faultyFs(failAt, mode);
      const { logger, text: logText } = sinkLogger();
      const store = createTokenStore({ configsDir: dir, env: {}, fs: faulty.fs, logger });

      const outcome = await store.save(NEW).then(
        () => "resolved" as const,
        (error: unknown) => error,
      );
      if (!faulty.injected()) completed = true;
      const failedStep = faulty.steps[failAt - 1];
      if (failedStep) stepsSeen.add(failedStep);
      const where = `${mode}, failing step #${failAt} (${failedStep ?? "none"}), steps: ${faulty.steps.join(" → ")}`;

      // The file holds exactly the old token or exactly the new one (or, with no old token, is absent).
      const content = await fsp.readFile(file, "utf8").catch(() => undefined);
      const allowed = [`${NEW}\n`, ...(old === undefined ? [undefined] : [`${old}\n`])];
      expect(allowed, where).toContain(content);
      if (content !== undefined) expect((await fsp.stat(file)).mode & 0o777, where).toBe(0o600);

      if (outcome === "resolved") {
        expect(content, where).toBe(`${NEW}\n`); // a resolved save means the new token is in place
      } else {
        expect(AuthError.isInstance(outcome), where).toBe(true);
        expect((outcome as AuthError).code, where).toBe("E_TOKEN_WRITE");
        expect((outcome as AuthError).message, where).toContain(file);
      }

      // A fresh store (the restarted process) reads a whole token.
      const reread = await createTokenStore({ configsDir: dir, env: {} }).get();
      expect([NEW, old], where).toContain(reread);

      // With the process alive, the temp file is cleaned up.
      if (mode === "error") expect(await fsp.readdir(dir), where).toEqual(content === undefined ? [] : [".auth_token"]);

      // And a later save (no faults) succeeds whatever was left behind.
      await createTokenStore({ configsDir: dir, env: {} }).save(NEW);
      expect(await fsp.readFile(file, "utf8"), where).toBe(`${NEW}\n`);

      // Nothing secret reached a log line or an error message.
      const text = [logText(), outcome instanceof Error ? `${outcome.message} ${outcome.stack}` : ""].join("\n");
      expect(text, where).not.toContain(NEW);
      if (old !== undefined) expect(text, where).not.toContain(old);
    }
    expect(completed).toBe(true);
    // Every step of the write path was hit by a fault.
    for (const step of [
      "mkdir",
      "open tmp",
      "tmp.chmod",
      "tmp.write",
      "tmp.fsync",
      "tmp.close",
      "rename",
      "open dir",
      "dir.fsync",
    ]) {
      expect(stepsSeen, `steps faulted: ${[...stepsSeen].join(", ")}`).toContain(step);
    }
  });
});

describe("save of an identical token with a loose mode", () => {
  it.each<Mode>(["error", "crash"])(
    "a failing chmod (%s) leaves the token intact and says E_TOKEN_WRITE",
    async (mode) => {
      await fsp.writeFile(file, `${OLD}\n`, { mode: 0o644 });
      await fsp.chmod(file, 0o644);
      // stat, open, readFile, close (the read), stat (mode), then chmod — fail at each in turn.
      for (let failAt = 1; failAt <= 6; failAt += 1) {
        await fsp.chmod(file, 0o644);
        const faulty = faultyFs(failAt, mode);
        const outcome = await createTokenStore({ configsDir: dir, env: {}, fs: faulty.fs })
          .save(OLD)
          .then(
            () => "resolved" as const,
            (error: unknown) => error,
          );
        const where = `failing step #${failAt}: ${faulty.steps.join(" → ")}`;
        expect(await fsp.readFile(file, "utf8"), where).toBe(`${OLD}\n`);
        if (outcome !== "resolved") {
          expect(AuthError.isInstance(outcome), where).toBe(true);
          expect((outcome as Error).message, where).not.toContain(OLD);
        }
      }
      await createTokenStore({ configsDir: dir, env: {} }).save(OLD);
      expect((await fsp.stat(file)).mode & 0o777).toBe(0o600);
    },
  );
});
