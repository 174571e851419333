import { mkdir, readFile, realpath, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT, runProcess } from "@molecule/test-support";
import { type FakeModelApi, startFakeModelApi } from "@molecule/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClaudeDaemon } from "./support/a2a.js";
import { e2eSuite } from "./support/suite.js";

// Every caller example in apps/runtime/README.md ("Calling the workspace over A2A"), run as written:
// the curl ones with bash, the SDK ones with node and the official @a2a-js/sdk 1.x, against the built
// daemon driving the real Claude Code CLI (offline, against the fake model API).

const e2e = e2eSuite("molecule-e2e-readme-");
const README = join(REPO_ROOT, "apps/runtime/README.md");
const REPLY = "Hello from the fake model API, via the README.";

interface Example {
  name: string;
  lang: "sh" | "js";
  code: string;
}

/** The fenced ```sh / ```js blocks whose first line is `# example: <name>` / `// example: <name>`. */
function examples(markdown: string): Example[] {
  const found: Example[] = [];
  for (const match of markdown.matchAll(/^```(sh|js)\n([\s\S]*?)^```$/gm)) {
    const lang = match[1] === "sh" ? "sh" : "js";
    const code = match[2] ?? "";
    const name = /^(?:#|\/\/) example: (\S+)/.exec(code)?.[1];
    if (name) found.push({ name, lang, code });
  }
  return found;
}

/** What each example must print (it must also exit 0). */
const EXPECT: Record<string, { sh: RegExp; js: RegExp }> = {
  discover: { sh: /"name":"e2e-worker".*"supportedInterfaces"/s, js: /^e2e-worker streaming: true$/m },
  send: {
    sh: new RegExp(`"kind":"text","text":"${REPLY}"`),
    js: new RegExp(`^${REPLY}\ncontextId: \\S+ taskId: \\S+$`, "m"),
  },
  stream: {
    sh: /"kind":"task".*"kind":"artifact-update".*"state":"completed".*"final":true/s,
    js: /^reply: .+\nstatus TASK_STATE_COMPLETED$/m,
  },
  continue: {
    sh: /"contextId":"readme-conversation".*\n?.*"contextId":"readme-conversation"/s,
    js: /^same conversation: true$/m,
  },
  cancel: { sh: /"state":"canceled"/, js: /^TASK_STATE_CANCELED$/m },
};

let api: FakeModelApi;
let sdkDir: string;
beforeAll(async () => {
  api = await startFakeModelApi({ reply: REPLY });
});
afterAll(() => api.close());

describe("the README's A2A examples", () => {
  it("has a curl and an SDK example for discovering, sending, streaming, continuing and cancelling", async () => {
    const found = examples(await readFile(README, "utf8"));
    for (const name of Object.keys(EXPECT)) {
      expect(
        found.filter((e) => e.name === name).map((e) => e.lang),
        name,
      ).toEqual(["sh", "js"]);
    }
  });

  it("each runs as written against the daemon and prints what it says", async () => {
    const d = await startClaudeDaemon(e2e.platform, api);
    // The SDK examples import "@a2a-js/sdk": resolve it to the 1.x the e2e app has (as a2a-sdk-v1).
    sdkDir = join(e2e.tmp, "examples");
    await mkdir(join(sdkDir, "node_modules", "@a2a-js"), { recursive: true });
    await symlink(
      await realpath(join(REPO_ROOT, "apps/e2e/node_modules/a2a-sdk-v1")),
      join(sdkDir, "node_modules", "@a2a-js", "sdk"),
    );
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", A2A_URL: d.base(), HOME: d.home };
    for (const example of examples(await readFile(README, "utf8"))) {
      if (example.name === "cancel") api.setMode("hang"); // a turn that is still running when cancelled
      let run: Awaited<ReturnType<typeof runProcess>>;
      if (example.lang === "sh") {
        run = await runProcess("bash", ["-euo", "pipefail", "-c", example.code], { env, timeoutMs: 90_000 });
      } else {
        const file = join(sdkDir, `${example.name}.mjs`);
        await writeFile(file, example.code);
        run = await runProcess(process.execPath, [file], { env, cwd: sdkDir, timeoutMs: 90_000 });
      }
      api.setMode("ok");
      const label = `${example.lang} ${example.name}\n${run.stdout}\n${run.stderr}`;
      expect(run.code, label).toBe(0);
      expect(run.stdout, label).toMatch(EXPECT[example.name]?.[example.lang] ?? /^$/);
    }
  }, 300_000);
});
