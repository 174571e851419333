// Cost of the token store's hot path: one stat per get() (cached), and a re-read after a rotation.
// Run: node --expose-gc bench/auth.bench.mjs   (build first: pnpm exec turbo run build --filter=@molecule/auth)
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTokenStore, isAuthFailureText, tokensEqual } from "../packages/auth/dist/index.js";

const dir = await mkdtemp(path.join(os.tmpdir(), "auth-bench-"));
const token = "A".repeat(43);
try {
  await writeFile(path.join(dir, ".auth_token"), token, { mode: 0o600 });
  const store = createTokenStore({ configsDir: dir, env: {} });
  await store.get();

  const measure = async (label, n, fn) => {
    for (let i = 0; i < Math.min(n, 200); i += 1) await fn(i); // warm-up
    globalThis.gc?.();
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i += 1) await fn(i);
    const us = Number(process.hrtime.bigint() - start) / 1e3 / n;
    console.log(`${label.padEnd(44)} ${us.toFixed(2).padStart(8)} µs/op  (n=${n})`);
  };

  await measure("get() cached (one stat)", 20_000, () => store.get());
  await measure("headers() cached", 20_000, () => store.headers());
  let k = 0;
  await measure("write+rename a new token, then get()", 2_000, async () => {
    k += 1;
    const tmp = path.join(dir, `t${k}`);
    await writeFile(tmp, `${token.slice(0, 37)}${String(k).padStart(6, "0")}`);
    await rename(tmp, path.join(dir, ".auth_token"));
    await store.get();
  });
  await measure("save() of a new token (temp+fsync+rename)", 300, (i) =>
    store.save(`${token.slice(0, 37)}s${String(i).padStart(5, "0")}`),
  );
  await measure("tokensEqual()", 200_000, () => tokensEqual(token, token));
  const text = `${"ordinary output line\n".repeat(200)}Not logged in · Please run /login`;
  await measure(`isAuthFailureText() on ${text.length} chars`, 20_000, () => isAuthFailureText(text));
} finally {
  await rm(dir, { recursive: true, force: true });
}
