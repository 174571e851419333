import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSessionStore, encodeProjectDir, isMissingSessionError, planResume, recordTurn } from "@molecule/session";

const dir = await mkdtemp(join(tmpdir(), "session-example-"));
const cwd = join(dir, "workspace"); // where the agent runs
await mkdir(cwd);
// claudeDir defaults to $CLAUDE_CONFIG_DIR, else ~/.claude; the daemon's store is /configs/.molecule/session.json
const options = { agent: "claude-code", cwd, claudeDir: join(dir, ".claude") } as const;
const store = createSessionStore({ file: join(dir, "state", "session.json") });

assert.deepEqual(await planResume(store, options), { resume: undefined, reason: "none" }); // a fresh session
const sessionId = randomUUID(); // the turn's result reports its session_id
await recordTurn(store, { sessionId, result: "ok" });

// Claude Code keeps the transcript in <claude dir>/projects/<encoded cwd>/<id>.jsonl:
const projectDir = join(options.claudeDir, "projects", await encodeProjectDir(cwd));
await mkdir(projectDir, { recursive: true });
await writeFile(join(projectDir, `${sessionId}.jsonl`), '{"type":"user"}\n');
assert.deepEqual(await planResume(store, options), { resume: sessionId, reason: "found" }); // → --resume <id>

// Had the agent answered "No conversation found with session ID …", the id is forgotten:
assert.equal(isMissingSessionError(`No conversation found with session ID: ${sessionId}`), true);
await recordTurn(store, { result: "session-missing" });
assert.deepEqual(await planResume(store, options), { resume: undefined, reason: "none" });
console.log(`session: ${sessionId} resumed once, then dropped`);
await rm(dir, { recursive: true, force: true });
