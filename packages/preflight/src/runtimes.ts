import type { AgentDescriptor } from "@molecule/auth";

/** The runtime that runs `runtime_config.command`: a known runtime, but not an agent of the registry. @internal */
export const COMMAND_RUNTIME = "command";

/** The runtimes an install can run: every agent of the registry, then `command`. @internal */
export function runtimesOf(agents: readonly AgentDescriptor[]): readonly string[] {
  return Object.freeze([...agents.map((agent) => agent.id), COMMAND_RUNTIME]);
}

/** The registry's descriptor for a runtime, or undefined (`command`, or an unknown runtime). @internal */
export function agentFor(agents: readonly AgentDescriptor[], runtime: string): AgentDescriptor | undefined {
  return agents.find((agent) => agent.id === runtime);
}
