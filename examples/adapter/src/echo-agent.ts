import { type Executor, startRuntime } from "@molecule/runtime";

// An agent of your own inside the daemon: no agent CLI, no agent credentials, no `runtime` in config.yaml.
const echo: Executor = {
  name: "echo",
  async runTurn({ text, signal }) {
    if (signal.aborted) return { outcome: "cancelled" };
    return text.trim() ? { outcome: "ok", text: `echo: ${text}` } : { outcome: "bad-request", error: "empty message" };
  },
};

/** Preflight, A2A server, register, heartbeat; resolves once it serves: `{ url, port, status(), stop() }`. */
export function startEchoAgent(configDir: string, env = process.env) {
  return startRuntime({ executor: echo, configDir, env });
}
