// The image, run the way Kubernetes runs it (deploy/kubernetes/): read-only root, every capability
// dropped, no privilege escalation, uid 1000; the token Secret and the config ConfigMap as read-only
// host dirs in the kubelet's `..data` layout, the PVC as a host dir, /tmp and HOME as tmpfs — on the
// host's network against the testkit platform and the testkit fake of the image's agent's model API
// (scripts/image/agents.mjs) served from this process.
import { randomUUID } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { agentEnv } from "./agents.mjs";
import { sampled } from "./engine.mjs";
import { fail, freePort, log, mb, sleep, waitFor } from "./util.mjs";
import { writeVolume } from "./volume-dir.mjs";

/** Where the manifests mount things; the wiring test checks deploy/kubernetes uses the same paths. */
export const PATHS = {
  config: "/etc/molecule/config",
  token: "/etc/molecule/token",
  data: "/var/lib/molecule",
  home: "/home/node",
};
/** The daemon's whole shutdown budget (default --grace). */
const GRACE_S = 10;
const greeting = (profile) =>
  `Hello from the fake model API, answered through the real ${profile.label} inside the image.`;
const TURN_ONE = "hello from the image test";
/**
 * Where each agent keeps its transcripts, relative to the PVC (/var/lib/molecule): Claude Code under
 * CLAUDE_CONFIG_DIR, Codex and Gemini CLI in the homes the daemon places at
 * $MOLECULE_STATE_DIR/agents/<id> (CODEX_HOME / GEMINI_CLI_HOME unset, as in deploy/kubernetes).
 */
const TRANSCRIPTS = {
  "claude-code": "claude/projects",
  codex: "state/agents/codex/sessions",
  "gemini-cli": "state/agents/gemini-cli/.gemini",
};

const lastMessageText = (body) => JSON.stringify(body?.messages?.at?.(-1) ?? "");

/** The fake model: a Bash tool call when the prompt asks for one, the tool's output echoed back. */
function modelReply(testkit, profile) {
  return (request) => {
    const output = testkit.lastToolResult(request.body);
    if (output !== undefined) return `the shell said: ${output.trim().replace(/\s+/g, " ")}`;
    const ask = /IMAGE-TEST-BASH sleep=(\d+)/.exec(lastMessageText(request.body));
    const offersBash = JSON.stringify(request.body?.tools ?? []).includes('"name":"Bash"');
    if (ask && offersBash) {
      const command = `echo uid=$(id -u); sh -c 'echo sh-ok'; bash -c 'echo bash-major=$BASH_VERSINFO'; sleep ${ask[1]}; echo slept`;
      return { toolUse: { name: "Bash", input: { command, description: "image test: the shell works" } } };
    }
    return greeting(profile);
  };
}

function workspaceConfig(port, profile, baseUrl) {
  return [
    "name: Image Test Engineer",
    "description: The molecule image, run by scripts/image-test.mjs.",
    `runtime: ${profile.id}`,
    "runtime_config:",
    "  timeout: 120",
    `  base_url: ${JSON.stringify(baseUrl)}`,
    ...(profile.extraArgs.length > 0 ? [`  args: ${JSON.stringify(profile.extraArgs)}`] : []),
    "prompt_files:",
    "  - system-prompt.md",
    "skills:",
    "  - code-review",
    "a2a:",
    `  port: ${port}`,
    "heartbeat:",
    "  interval_seconds: 1",
    "",
  ].join("\n");
}

async function send(port, text, timeoutMs = 120_000) {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: randomUUID(),
      method: "message/send",
      params: { message: { role: "user", messageId: randomUUID(), parts: [{ kind: "text", text }] } },
    }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.json();
  if (body.error) fail(`message/send "${text}" answered a JSON-RPC error: ${JSON.stringify(body.error)}`);
  return (body.result?.parts ?? []).map((p) => p.text ?? "").join("");
}

async function status(port, path) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3_000) });
    await res.text();
    return res.status;
  } catch {
    return 0;
  }
}

/**
 * Runs every check for the image of `profile`'s agent; returns the figures for the report. Removes
 * its container. Claude Code's turn also calls the Bash tool, and its SIGTERM check has a turn in
 * flight (the other fakes answer text only).
 */
export async function runContainerChecks({ engine, image, repo, workDir, profile, testkit }) {
  const figures = {};
  const check = (what, ok, detail = "") => {
    if (!ok) fail(`${what}${detail ? `: ${detail}` : ""}`);
    log(`✓ ${what}${detail ? ` (${detail})` : ""}`);
  };

  // What the image says about itself, and what runs in it.
  const meta = await engine.imageInspect(image);
  const cfg = meta.Config ?? meta.config ?? {};
  check("runs as uid:gid 1000:1000", cfg.User === "1000:1000", cfg.User);
  check("tini is PID 1 (ENTRYPOINT)", JSON.stringify(cfg.Entrypoint) === '["/usr/bin/tini","--"]');
  check("STOPSIGNAL SIGTERM", cfg.StopSignal === "SIGTERM");
  // podman keeps the (Docker-format) healthcheck beside the OCI config; Docker inside it.
  const healthcheck = cfg.Healthcheck ?? meta.HealthCheck ?? meta.Healthcheck;
  check("EXPOSE 8000", Object.keys(cfg.ExposedPorts ?? {}).includes("8000/tcp"));
  check(
    "HEALTHCHECK is molecule-runtime healthcheck",
    JSON.stringify(healthcheck?.Test) === '["CMD","molecule-runtime","healthcheck"]',
    JSON.stringify(healthcheck?.Test),
  );
  const labels = cfg.Labels ?? meta.Labels ?? {};
  for (const label of ["source", "version", "revision"]) {
    check(`OCI label org.opencontainers.image.${label}`, Boolean(labels[`org.opencontainers.image.${label}`]));
  }
  check(
    `label ai.molecule.agent=${profile.id}`,
    labels["ai.molecule.agent"] === profile.id,
    labels["ai.molecule.agent"],
  );
  const probe = await engine.runOnce([
    "--network",
    "none",
    image,
    "sh",
    "-c",
    `${profile.versionCommand}; molecule --version; molecule-runtime --version; id -u; getent passwd node; for c in bash sh tini; do command -v $c; done`,
  ]);
  const lines = probe.stdout.trim().split("\n");
  check(`${profile.label} ${profile.pin} on PATH`, profile.versionOf(lines[0] ?? "") === profile.pin, lines[0]);
  check(
    "molecule and molecule-runtime on PATH",
    /^\d+\.\d+\.\d+/.test(lines[1] ?? "") && /^\d+\.\d+\.\d+/.test(lines[2] ?? ""),
  );
  check(
    "uid 1000, login shell /usr/sbin/nologin",
    lines[3] === "1000" && (lines[4] ?? "").endsWith(":/usr/sbin/nologin"),
  );
  check("bash and sh kept, tini installed", lines.slice(5).length === 3, lines.slice(5).join(" "));

  // The kubelet's view of the pod's volumes, on the host.
  const workspaceId = randomUUID();
  const platform = await testkit.startTestPlatform();
  const api = await profile.startApi(testkit, profile.toolTurn ? modelReply(testkit, profile) : greeting(profile));
  const port = await freePort();
  const example = join(repo, "examples/workspace");
  const configDir = join(workDir, "configmap");
  const tokenDir = join(workDir, "secret");
  const dataDir = join(workDir, "pvc");
  writeVolume(
    configDir,
    {
      "config.yaml": workspaceConfig(port, profile, api.url),
      "system-prompt.md": readFileSync(join(example, "system-prompt.md"), "utf8"),
      "skills/code-review/SKILL.md": readFileSync(join(example, "skills/code-review/SKILL.md"), "utf8"),
    },
    { mode: 0o644, gid: 1000 },
  );
  platform.control.seed(workspaceId, { name: "image-test" });
  const firstToken = platform.control.rotateToken(workspaceId); // provisioned before the pod starts
  // defaultMode 0400 + fsGroup 1000: the kubelet makes it 0440, owner root, group 1000.
  writeVolume(tokenDir, { ".auth_token": `${firstToken}\n` }, { mode: 0o440, gid: 1000 });
  mkdirSync(dataDir, { recursive: true });
  if (process.getuid?.() === 0) {
    chownSync(dataDir, 0, 1000); // the PVC's root after fsGroup: group 1000, setgid
    chmodSync(dataDir, 0o2770);
  } else chmodSync(dataDir, 0o777); // a Docker engine run by a user: no chown

  let id;
  const dump = async () => `\n--- container log ---\n${(await engine.logs(id)).split("\n").slice(-40).join("\n")}`;
  try {
    const t0 = Date.now();
    id = await engine.runContainer([
      "--name",
      `molecule-image-test-${workspaceId.slice(0, 8)}`,
      "--network",
      "host",
      "--read-only",
      "--tmpfs",
      "/tmp:rw,mode=1777",
      "--tmpfs",
      `${PATHS.home}:rw,mode=0777`,
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "-v",
      `${configDir}:${PATHS.config}:ro`,
      "-v",
      `${tokenDir}:${PATHS.token}:ro`,
      "-v",
      `${dataDir}:${PATHS.data}`,
      // No MOLECULE_A2A_ALLOW_UNAUTHENTICATED here: the image's own ENV opts in to a2a.auth: none on
      // 0.0.0.0 (the daemon refuses to start otherwise), so booting at all checks the image has it.
      ...[
        `WORKSPACE_ID=${workspaceId}`,
        `PLATFORM_URL=${platform.url}`,
        `MOLECULE_ADVERTISE_URL=http://localhost:${port}`,
        `WORKSPACE_CONFIG_PATH=${PATHS.config}`,
        `CONFIGS_DIR=${PATHS.token}`,
        `MOLECULE_STATE_DIR=${PATHS.data}/state`,
        `CLAUDE_CONFIG_DIR=${PATHS.data}/claude`,
        ...agentEnv(profile),
        "LOG_LEVEL=info",
      ].flatMap((e) => ["-e", e]),
      image, // the image's CMD: molecule-runtime --workspace-dir /var/lib/molecule/workspace
    ]);
    const beats = () => platform.control.beats(workspaceId);
    await waitFor(
      "the container to register",
      () => platform.control.registrations(workspaceId).length > 0,
      90_000,
    ).catch(async (error) => fail(`${error.message}${await dump()}`));
    const reg = platform.control.registrations(workspaceId)[0];
    check(
      "boots and registers with the provisioned token",
      reg.status === 200 && reg.token === firstToken,
      `${Date.now() - t0} ms`,
    );
    figures.bootMs = Date.now() - t0;
    await waitFor("two accepted beats", () => beats().filter((b) => b.status === 200).length >= 2, 15_000);
    check(
      "beats (200, authenticated)",
      beats().every((b) => b.status === 200 && b.auth === "ok"),
      `${beats().length} beats`,
    );
    check("/livez answers 200", (await status(port, "/livez")) === 200);
    await waitFor("/readyz 200", async () => (await status(port, "/readyz")) === 200, 30_000);
    check("/readyz answers 200", true);
    const hc = await engine.healthcheck(id);
    check("HEALTHCHECK passes", hc.status === 0, `${hc.stdout.trim()}${hc.stderr.trim()}`.trim() || "exit 0");
    const proc = await engine.exec(id, ["sh", "-c", "cat /proc/1/comm; grep ^Uid /proc/1/status; id -u"]);
    const [comm, uidLine, execUid] = proc.stdout.trim().split("\n");
    check(
      "PID 1 is tini, everything runs as uid 1000",
      comm === "tini" && /^Uid:\s+1000\s/.test(uidLine ?? "") && execUid === "1000",
    );
    const st = await engine.exec(id, ["molecule", "status"], { allowFail: true });
    check(
      "`molecule status` works through exec (the admin socket on the PVC)",
      st.status === 0,
      st.stdout.trim().split("\n")[0],
    );

    const firstAt = Date.now();
    const hello = await send(port, TURN_ONE);
    check(
      `message/send gets the real ${profile.label}'s reply (through runtime_config.base_url)`,
      hello === greeting(profile) && api.requestsText(firstAt).length > 0,
      hello,
    );

    // Turn 2 on the same (default) context: the agent resumes, so the model sees turn 1. Claude
    // Code's calls the Bash tool; the daemon + CLI memory is sampled during it.
    const pid = (await engine.inspect(id)).State.Pid;
    const secondAt = Date.now();
    const second = await sampled(
      engine,
      id,
      pid,
      send(port, profile.toolTurn ? "IMAGE-TEST-BASH sleep=2" : "second turn from the image test"),
    );
    if (profile.toolTurn) {
      check(
        "a turn in which the model calls the Bash tool succeeds",
        /uid=1000 sh-ok bash-major=5 slept/.test(second.value),
        second.value,
      );
    } else check("a second turn answers", second.value === greeting(profile), second.value);
    check(
      "the second turn resumes the first (the model request carries turn 1)",
      api.requestsText(secondAt).includes(TURN_ONE),
    );
    const transcripts = join(dataDir, TRANSCRIPTS[profile.id]);
    check(
      "the agent's transcripts are on the PVC (they survive a restart)",
      existsSync(transcripts),
      `${PATHS.data}/${TRANSCRIPTS[profile.id]}`,
    );
    figures.turnMemory = second.peak;
    log(
      `  memory during turn 2 (daemon + ${profile.label}${profile.toolTurn ? " + shell" : ""}): rss ${mb(second.peak.rss)}, working set ${mb(second.peak.workingSet)}, usage with page cache ${mb(second.peak.usage)}`,
    );

    // The platform rotates the token; the Secret update arrives as the `..data` swap.
    const rotatedAt = Date.now();
    const secondToken = platform.control.rotateToken(workspaceId);
    writeVolume(tokenDir, { ".auth_token": `${secondToken}\n` }, { mode: 0o440, gid: 1000 });
    await waitFor(
      "a beat with the rotated token",
      () => beats().some((b) => b.at >= rotatedAt && b.token === secondToken && b.status === 200),
      20_000,
    );
    await sleep(2_500);
    const since = beats().filter((b) => b.at >= rotatedAt);
    const rejected = since.filter((b) => b.status === 401).length;
    const tail = since.slice(-3);
    check(
      "the rotated token (..data swap) is picked up without a 401 loop",
      rejected <= 2 && tail.length === 3 && tail.every((b) => b.status === 200),
      `${rejected} beat(s) answered 401 in the swap window, then ${tail.length}+ accepted`,
    );

    // SIGTERM, with a turn in flight where the fake can hold one (Claude Code's Bash tool sleeps):
    // the turn finishes, a final beat says active_tasks 0, exit 0.
    const inFlight = profile.toolTurn ? sampled(engine, id, pid, send(port, "IMAGE-TEST-BASH sleep=2")) : undefined;
    if (inFlight) {
      await waitFor("a beat with the turn running", () => beats().some((b) => b.body?.active_tasks === 1), 20_000);
    }
    const stopAt = Date.now();
    await engine.stop(id, GRACE_S + 20);
    const stopMs = Date.now() - stopAt;
    if (inFlight) {
      const turn = await inFlight;
      check("the turn in flight at SIGTERM finishes", /slept/.test(turn.value), turn.value);
      for (const key of Object.keys(figures.turnMemory)) {
        figures.turnMemory[key] = Math.max(figures.turnMemory[key], turn.peak[key]);
      }
    }
    const state = (await engine.inspect(id)).State;
    check(
      `stop (SIGTERM) exits 0 within the ${GRACE_S} s grace budget`,
      state.ExitCode === 0 && stopMs < GRACE_S * 1000,
      `${stopMs} ms, exit ${state.ExitCode}`,
    );
    figures.stopMs = stopMs;
    const last = beats()
      .filter((b) => b.status === 200)
      .at(-1);
    check(
      "the final beat says active_tasks 0",
      last !== undefined && last.at >= stopAt && last.body.active_tasks === 0,
    );

    const logs = await engine.logs(id);
    check("no token in the container's log", !logs.includes(firstToken) && !logs.includes(secondToken));
    const warnings = logs
      .split("\n")
      .filter((line) => /"level":("warn"|"error"|"fatal"|40|50|60)[,}]/.test(line))
      .map((line) => {
        try {
          const entry = JSON.parse(line);
          return `${entry.event ?? entry.level}: ${entry.msg ?? ""}`.slice(0, 200);
        } catch {
          return line.slice(0, 200);
        }
      });
    for (const warning of [...new Set(warnings)]) log(`  daemon warned: ${warning}`);
    figures.tokenModeWarning = /loose_mode|W_PLATFORM_TOKEN_MODE|readable by others/.test(logs);
    return figures;
  } catch (error) {
    // What the daemon said, for the failure's reader (the first failure only: its log tail).
    if (id && error instanceof Error && !error.message.includes("--- container log ---")) {
      error.message += await dump().catch(() => "");
    }
    throw error;
  } finally {
    if (id) await engine.removeContainer(id);
    await Promise.allSettled([platform.close(), api.close()]);
  }
}
