// Registration faults against the built daemon: a permanent refusal is fatal with its fix (never a
// silent retry loop), and a token a killed save stranded in its temp file is recovered at boot.
import { execFileSync } from "node:child_process";
import { mkdir, readdir, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { IS_ROOT } from "@molecule/test-support";
import { fakeAgentCli, readFakeAgentCalls } from "@molecule/testkit";
import { describe, expect, it } from "vitest";
import { killPids, onCleanup, startDaemon } from "./support/daemon.js";
import { view } from "./support/platform-view.js";
import { e2eSuite } from "./support/suite.js";

const e2e = e2eSuite("molecule-e2e-register-");

async function fake(): Promise<string> {
  const cli = await fakeAgentCli({ dir: e2e.tmp, behaviour: "ok", reply: "done" });
  onCleanup(async () => killPids((await readFakeAgentCalls(cli)).map((c) => c.pid)));
  return cli;
}

describe("a register the platform refuses", () => {
  it("a permanent 4xx (413: the agent card is too large) stops the boot: exit 1 with the fix, one attempt", async () => {
    e2e.platform.control.failNext("register", { status: 413, body: { error: "request body too large" } });
    const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: await fake() } } });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toContain("E_REGISTER_REJECTED");
    expect(d.stderr()).toContain("HTTP 413");
    expect(d.stderr()).toContain("shorten description");
    expect(e2e.platform.control.registrations(d.id)).toHaveLength(1);
    expect(d.logs.some((l) => l.event === "runtime.ready")).toBe(false);
  });

  it("a 200 that is not the platform's answer is not a registration: exit 1, pointing at PLATFORM_URL", async () => {
    e2e.platform.control.failNext("register", { garbage: true });
    const d = await startDaemon({ platform: e2e.platform, config: { runtime_config: { command: await fake() } } });
    expect((await d.exited).code).toBe(1);
    expect(d.stderr()).toContain("E_REGISTER_REJECTED");
    expect(d.stderr()).toContain("PLATFORM_URL");
    expect(d.logs.some((l) => l.event === "register.ok")).toBe(false);
  });
});

describe("a token stranded by a kill between issue and save", () => {
  it("a 401 at boot tries the complete temp token, keeps the one that works and removes the temp files", async () => {
    const cli = await fake();
    const config = { runtime_config: { command: cli } };
    const a = await startDaemon({ platform: e2e.platform, config });
    await a.waitForLog((l) => l.event === "runtime.ready");
    a.child.kill("SIGTERM");
    expect((await a.exited).code).toBe(0);
    const token = e2e.platform.control.token(a.id);
    expect(token).toBeTruthy();
    // What a kill right before the rename leaves: the issued token only in the durable write's temp file.
    const stranded = join(a.configsDir, ".auth_token.4242.0123456789ab.tmp");
    await rename(join(a.configsDir, ".auth_token"), stranded);

    const b = await startDaemon({ platform: e2e.platform, config, restartOf: a });
    await b.waitForLog((l) => l.event === "runtime.ready");
    expect(b.logs.find((l) => l.event === "register.stranded_recovered")).toBeTruthy();
    expect((await readFile(join(a.configsDir, ".auth_token"), "utf8")).trim()).toBe(token);
    expect((await readdir(a.configsDir)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    const regs = e2e.platform.control.registrations(a.id).slice(1);
    expect(regs.map((r) => r.status)).toEqual([401, 200]);
    expect(regs.at(-1)).toMatchObject({ token, issuedToken: null });
    // The workspace kept its token: beats go on with it.
    const v = view(e2e.platform, a.id);
    const at = v.beats().length;
    await v.waitBeat(() => true, at);
    expect(v.beats().at(-1)?.token).toBe(token);
    expect(b.stderr()).not.toContain(token);
    expect(JSON.stringify(b.logs)).not.toContain(token);
  });
});

describe.runIf(IS_ROOT)("a read-only CONFIGS_DIR (a Secret mount; root mounts a read-only tmpfs)", () => {
  it("a token register issues cannot be saved: exit 1 with E_TOKEN_READONLY and the fix, not 'refused'", async () => {
    const readOnly = join(e2e.tmp, "secret-mount");
    await mkdir(readOnly);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", readOnly]);
    onCleanup(() => {
      execFileSync("umount", [readOnly]);
    });
    const d = await startDaemon({
      platform: e2e.platform,
      config: { runtime_config: { command: await fake() } },
      env: { CONFIGS_DIR: readOnly },
    });
    expect((await d.exited).code).toBe(1);
    // The platform did issue a token (it answered 200 with auth_token) …
    expect(e2e.platform.control.token(d.id)).toBeTruthy();
    // … so the error says it was lost on a read-only volume, and how to provision it instead.
    expect(d.stderr()).toContain("could not be saved");
    expect(d.stderr()).toContain("EROFS");
    expect(d.stderr()).toContain("provision it in the Secret's .auth_token");
    expect(d.stderr()).not.toContain("refused to register");
    expect(d.stderr()).not.toContain(e2e.platform.control.token(d.id) ?? "no token");
  });
});
