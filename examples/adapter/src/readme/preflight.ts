import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineCheck, renderReport, runPreflight, workspaceChecks } from "@molecule/preflight";

const dir = await mkdtemp(join(tmpdir(), "preflight-example-")); // the daemon's: /configs
await writeFile(join(dir, "config.yaml"), "name: My Agent\nruntime: claude-code\nprompt_files: [system-prompt.md]\n");
const env = { WORKSPACE_ID: randomUUID(), PLATFORM_URL: "https://platform.example.com", WORKSPACE_CONFIG_PATH: dir };

const gpu = defineCheck({
  name: "gpu", // a check of your own: a "fail" issue fails the report, a "warn" one is only shown
  needsConfig: false, // runs even when config.yaml does not load
  run(ctx) {
    if (ctx.env.CUDA_VISIBLE_DEVICES) return { detail: `GPU ${ctx.env.CUDA_VISIBLE_DEVICES}` };
    return {
      issues: [{ severity: "fail", code: "E_NO_GPU", title: "No GPU", detail: "none visible", fix: "Use a GPU node." }],
    };
  },
});
// Every built-in check but the agent's binary and login (no agent is installed here), then yours:
const checks = [...workspaceChecks(undefined, { skip: ["agent-binary", "agent-auth"] }), gpu];

const report = await runPreflight(checks, { env }); // loads <WORKSPACE_CONFIG_PATH>/config.yaml first
process.stderr.write(renderReport(report)); // Preflight checks: / [FAIL] No GPU: none visible / Fix: … / [WARN] …
const codes = [...report.failures, ...report.warnings].map((issue) => issue.code);
assert.deepEqual(codes, ["E_NO_GPU", "W_PROMPT_FILE_MISSING"]); // system-prompt.md is not there
assert.equal(report.ok, false);
const fixed = await runPreflight(checks, { env: { ...env, CUDA_VISIBLE_DEVICES: "0" } });
assert.equal(fixed.ok, true); // warnings never fail it
await rm(dir, { recursive: true, force: true });
