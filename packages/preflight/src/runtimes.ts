import type { AgentDescriptor } from "@molecule/auth";

/** The runtime that runs `runtime_config.command`: a known runtime, but not an agent of the registry. @internal */
export const COMMAND_RUNTIME = "command";

/** The runtime that loads an adapter module (`runtime_config.module`, `MOLECULE_ADAPTER_MODULE`). @internal */
export const ADAPTER_RUNTIME = "adapter";

/** The known runtimes that are not agents of the registry (`command`, `adapter`): the one list every runtime list ends with. */
export const NON_AGENT_RUNTIMES: readonly string[] = Object.freeze([COMMAND_RUNTIME, ADAPTER_RUNTIME]);

/** The runtimes an install can run: every agent of the registry, then `command` and `adapter`. @internal */
export function runtimesOf(agents: readonly AgentDescriptor[]): readonly string[] {
  return Object.freeze([...agents.map((agent) => agent.id), ...NON_AGENT_RUNTIMES]);
}

/** The registry's descriptor for a runtime, or undefined (`command`, `adapter`, or an unknown runtime). @internal */
export function agentFor(agents: readonly AgentDescriptor[], runtime: string): AgentDescriptor | undefined {
  return agents.find((agent) => agent.id === runtime);
}
