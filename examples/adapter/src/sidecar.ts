import { createTokenStore } from "@molecule/auth";
import { createHeartbeat, createTaskTracker, defaultCapabilities, register } from "@molecule/heartbeat";
import { clearWedge, markWedged } from "@molecule/wedge";

/** Keeps the platform's view of an agent served at `url` true: register, beat, re-register, stop. */
export async function startSidecar(url: string, env = process.env) {
  const [platformUrl, workspaceId] = [env.PLATFORM_URL ?? "", env.WORKSPACE_ID ?? ""];
  const tokens = createTokenStore({ configsDir: env.CONFIGS_DIR ?? "/configs", watch: true });
  const stopping = new AbortController();
  const agentCard = { name: "my-agent", description: "Answers questions", version: "1.0.0", url, skills: [] };
  const registerAgent = () => register({ platformUrl, workspaceId, tokens, url, agentCard, signal: stopping.signal });
  await registerAgent(); // saves an issued token first; rejects with the fix when the platform refuses
  const tasks = createTaskTracker(); // tasks.start(label) around each turn → done(outcome)
  const metadata = () => ({ capabilities: { ...defaultCapabilities } });
  const heartbeat = createHeartbeat({ platformUrl, workspaceId, tokens, tasks, metadata });
  heartbeat.onOutageRecovered(() => void registerAgent().catch((error) => console.error(error)));
  await heartbeat.start(); // beats now and every 30 s; holds the process open until stop()
  return {
    tasks,
    wedged: (reason: string) => markWedged(reason), // the platform shows "degraded" within a second
    recovered: () => clearWedge(),
    async stop() {
      stopping.abort(); // ends a re-register still retrying
      await heartbeat.stop(); // one final beat with active_tasks 0
      tokens.close();
    },
  };
}
