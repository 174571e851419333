// A token store never holds the process open, watching or not (its fs.watch is not persistent and
// its poll timer is unref'd): a process with nothing else to do exits. Runs the BUILT package.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { removeDir, runProcess, tempDir } from "@molecule/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const DIST = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.js")).href;
let dir: string;

beforeAll(async () => {
  dir = await tempDir("token-store-exit-");
  await mkdir(join(dir, "configs"));
  await writeFile(
    join(dir, "child.mjs"),
    `import { createTokenStore } from ${JSON.stringify(DIST)};
const store = createTokenStore({ configsDir: process.argv[2], watch: process.argv[3] === "watch" });
await store.save("tok-0123456789abcdef");
process.stdout.write(String(Boolean((await store.headers()).Authorization)));
`,
  );
});
afterAll(() => removeDir(dir));

describe("a token store and the process", () => {
  it.each(["watch", "no-watch"])("%s: the process exits 0 on its own", async (mode) => {
    const result = await runProcess(process.execPath, [join(dir, "child.mjs"), join(dir, "configs"), mode], {
      env: { PATH: process.env.PATH ?? "" },
      timeoutMs: 30_000,
    });
    expect(result).toMatchObject({ code: 0, signal: null, stdout: "true", stderr: "" });
  });
});
