import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkAgentAuth, createTokenStore, getAgent, isAuthFailureText } from "@molecule/auth";

const dir = await mkdtemp(join(tmpdir(), "auth-example-"));
const tokens = createTokenStore({ configsDir: join(dir, "configs"), env: {} }); // the daemon's: /configs
assert.deepEqual(await tokens.headers(), {}); // no token yet: the first register gets one issued
await tokens.save("tok-issued-at-register"); // atomic, 0600; creates configsDir (0700)
const used = await tokens.get(); // the token a request carried
assert.deepEqual(await tokens.headers(), { Authorization: "Bearer tok-issued-at-register" });

// The provisioner rotates it (whole file, then rename); the request with `used` got a 401:
await writeFile(join(dir, "next.tmp"), "tok-rotated\n", { mode: 0o600 });
await rename(join(dir, "next.tmp"), tokens.file);
assert.deepEqual(await tokens.refreshFromDisk(used), { token: "tok-rotated", changed: true }); // retry once
tokens.close();

// The agent CLI's own login, checked without running it and without the network:
const auth = await checkAgentAuth({ agent: "claude-code", home: join(dir, "home"), env: {} });
assert.equal(auth.ok, false); // no ~/.claude/.credentials.json, no ANTHROPIC_API_KEY
assert.equal(auth.state, "missing");
console.log(`auth: ${auth.reason}`);
assert.equal(getAgent("claude-code")?.binary, "claude");
assert.equal(isAuthFailureText("Not logged in · Please run /login"), true); // in an agent's output
await rm(dir, { recursive: true, force: true });
