import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sinkLogger } from "@molecule/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTokenStore } from "./token-store.js";

const T1 = "tok1-Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA";
const T2 = "tok2-cm90YXRlZHJvdGF0ZWRyb3RhdGVkcm90YXRlZA";
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "token-save-log-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("what a save logs", () => {
  it("the first save at boot is 'saved', not 'changed on disk'; a change by someone else is", async () => {
    const log = sinkLogger();
    const store = createTokenStore({ configsDir: dir, logger: log.logger });
    const rotated: string[] = [];
    store.onRotated((token) => rotated.push(token));
    expect(await store.headers()).toEqual({}); // boot: no token yet
    await store.save(T1); // the register response's token
    expect(log.events()).toEqual(["token.saved"]);
    expect(rotated).toEqual([T1]); // listeners still hear of the new token
    await writeFile(path.join(dir, ".auth_token"), `${T2}\n`, { mode: 0o600 }); // the provisioner rotates it
    await store.refreshFromDisk();
    expect(log.events()).toEqual(["token.saved", "token.rotated"]);
    expect(rotated).toEqual([T1, T2]);
  });
});
