// A template adapter package for the Molecule daemon. The daemon loads it when config.yaml says
//
//   runtime: adapter
//   runtime_config:
//     module: "@acme/molecule-adapter-echo"   # installed in the config dir, or beside @molecule/runtime
//
// (or MOLECULE_ADAPTER_MODULE=@acme/molecule-adapter-echo, which wins) and calls createExecutor(context)
// once at boot. Plain ESM with no dependencies: @molecule/runtime is a peer, only its types matter here.

/** @typedef {import("@molecule/runtime").AdapterContext} AdapterContext */
/** @typedef {import("@molecule/runtime").Executor} Executor */

/**
 * @param {AdapterContext} context what the daemon hands every executor: config, dirs, env, logger,
 *   the session store and the process-group listener
 * @returns {Executor}
 */
export function createExecutor(context) {
  // Settings: what config.yaml already has (context.config.model, runtime_config.base_url, args,
  // timeout…), and settings of your own from the environment (other runtime_config keys warn as unknown).
  const prefix = context.env.ECHO_PREFIX ?? "echo: ";
  context.logger.info({ event: "echo.created", prefix }, "echo adapter ready");
  return {
    name: "echo",
    // Preflight runs these before the daemon goes live (a "fail" issue stops the boot with its fix)
    // and the readiness gate re-runs them. A check is { name, timeoutMs, needsConfig, run(ctx) }.
    checks: [
      {
        name: "echo-mode",
        timeoutMs: 1_000,
        needsConfig: false,
        async run(ctx) {
          if (ctx.env.ECHO_MODE === "off") {
            return {
              issues: [
                {
                  severity: "fail",
                  code: "E_ECHO_OFF",
                  title: "Echo is switched off",
                  detail: "ECHO_MODE is off",
                  fix: "Unset ECHO_MODE (or set it to on).",
                },
              ],
            };
          }
          return { detail: `prefix ${JSON.stringify(prefix)}` };
        },
      },
    ],
    // One turn: the user's text in, a TurnReply out ({ outcome: "ok", text } or a failure outcome).
    async runTurn(turn) {
      if (turn.signal.aborted) return { outcome: "cancelled" };
      if (!turn.text.trim()) return { outcome: "bad-request", error: "empty message" };
      return { outcome: "ok", text: `${prefix}${turn.text}` };
    },
    // Called once on shutdown: end what the adapter started.
    async close() {},
  };
}
