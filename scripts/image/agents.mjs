// The three agents the image builds for (`--build-arg AGENT=…`), as the image test drives them: the
// pin the Dockerfile must carry, how the CLI prints its version, and the testkit fake of its model
// API that answers a turn on this host (config.yaml's `runtime_config.base_url` + a dummy key).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { fail } from "./util.mjs";

/** What `--agent all` builds, in this order (claude-code is the default and what `npm test` runs). */
export const AGENT_IDS = ["claude-code", "codex", "gemini-cli"];
export const DEFAULT_AGENT = "claude-code";

/** The dummy key each agent's variable carries; the fakes accept any. */
const FAKE_KEY = "image-test-fake-key";

/** Imports a workspace package's built entry (`pnpm build` first). */
export async function importBuilt(repo, pkgDir) {
  const dist = join(repo, pkgDir, "dist/index.js");
  return import(pathToFileURL(dist).href).catch((error) =>
    fail(`cannot load ${dist} (${error.message}); run \`pnpm build\` first`),
  );
}

/**
 * One row per agent: { id, label, npmPackage, pinArg, pin, versionOf(stdout line) → string|undefined,
 * versionCommand, keyEnv, extraEnv, toolTurn, startApi(testkit, reply) }. `startApi` resolves with
 * { url, close(), requestsText(since) → the JSON of every model request's conversation since `since` }.
 */
export async function agentProfiles(repo) {
  const auth = await importBuilt(repo, "packages/auth");
  const root = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
  const registry = (id) => {
    const agent = auth.getAgent(id);
    if (!agent?.npmPackage || !agent.testedVersion)
      fail(`@molecule/auth names no npm package/tested version for ${id}`);
    return agent;
  };
  const conversation = (list, since, of) =>
    list()
      .filter((r) => r.at >= since)
      .map(of)
      .join("\n");
  return {
    "claude-code": {
      id: "claude-code",
      label: "Claude Code CLI",
      npmPackage: registry("claude-code").npmPackage,
      pinArg: "CLAUDE_CODE_VERSION",
      // The repository installs Claude Code as a root devDependency: that is the pin.
      pin: root.devDependencies?.["@anthropic-ai/claude-code"],
      registryVersion: registry("claude-code").testedVersion,
      versionCommand: "claude --version",
      versionOf: (line) => /^(\S+) \(Claude Code\)$/.exec(line)?.[1],
      keyEnv: "ANTHROPIC_API_KEY",
      extraEnv: ["DISABLE_TELEMETRY=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1"],
      extraArgs: ["--allowedTools", "Bash"],
      toolTurn: true,
      async startApi(testkit, reply) {
        const api = await testkit.startFakeModelApi({ reply });
        return {
          url: api.url,
          close: () => api.close(),
          requestsText: (since) => conversation(api.messages, since, (r) => JSON.stringify(r.body?.messages ?? [])),
        };
      },
    },
    codex: {
      id: "codex",
      label: "Codex CLI",
      npmPackage: registry("codex").npmPackage,
      pinArg: "CODEX_VERSION",
      pin: registry("codex").testedVersion,
      registryVersion: registry("codex").testedVersion,
      versionCommand: "codex --version",
      versionOf: (line) => /^codex-cli (\S+)$/.exec(line)?.[1],
      keyEnv: "CODEX_API_KEY",
      extraEnv: [],
      extraArgs: [],
      toolTurn: false,
      async startApi(testkit, reply) {
        const api = await testkit.startFakeOpenAiResponses({ reply });
        return {
          url: api.url, // with /v1, as Codex's provider spells it
          close: () => api.close(),
          requestsText: (since) => conversation(api.responses, since, (r) => JSON.stringify(r.messages)),
        };
      },
    },
    "gemini-cli": {
      id: "gemini-cli",
      label: "Gemini CLI",
      npmPackage: registry("gemini-cli").npmPackage,
      pinArg: "GEMINI_CLI_VERSION",
      pin: registry("gemini-cli").testedVersion,
      registryVersion: registry("gemini-cli").testedVersion,
      versionCommand: "gemini --version",
      versionOf: (line) => /^(\d+\.\d+\.\d+\S*)$/.exec(line)?.[1],
      keyEnv: "GEMINI_API_KEY",
      extraEnv: [],
      extraArgs: [],
      toolTurn: false,
      async startApi(testkit, reply) {
        const api = await testkit.startFakeGeminiApi({ reply });
        return {
          url: api.url, // the host root, as GOOGLE_GEMINI_BASE_URL
          close: () => api.close(),
          requestsText: (since) => conversation(api.generations, since, (r) => JSON.stringify(r.messages)),
        };
      },
    },
  };
}

/** The env that gives the agent its (dummy) key, plus what the agent needs quiet offline. */
export function agentEnv(profile) {
  return [`${profile.keyEnv}=${FAKE_KEY}`, ...profile.extraEnv];
}

/**
 * `--agent claude-code|codex|gemini-cli|all` (also `--agent=…`; default claude-code) → the ids to
 * build, in AGENT_IDS order. Exits 2 with the usage on anything else.
 */
export function parseAgents(argv) {
  const usage = `usage: pnpm image:test [--agent ${[...AGENT_IDS, "all"].join("|")}]  (default ${DEFAULT_AGENT})`;
  let chosen = DEFAULT_AGENT;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    if (arg === "--") continue;
    const inline = /^--agent=(.*)$/.exec(arg);
    if (inline) chosen = inline[1] ?? "";
    else if (arg === "--agent") {
      chosen = argv[i + 1] ?? "";
      i += 1;
    } else {
      process.stderr.write(`image:test: unknown argument ${arg}\n${usage}\n`);
      process.exit(2);
    }
  }
  if (chosen === "all") return [...AGENT_IDS];
  if (!AGENT_IDS.includes(chosen)) {
    process.stderr.write(`image:test: unknown agent "${chosen}"\n${usage}\n`);
    process.exit(2);
  }
  return [chosen];
}
