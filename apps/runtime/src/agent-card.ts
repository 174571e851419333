import type { WorkspaceConfig } from "@molecule/config";

/** The A2A protocol versions the daemon answers on its one JSON-RPC endpoint. */
export const PROTOCOL_VERSIONS = { v03: "0.3.0", v1: "1.0" } as const;

/**
 * The agent card served at `/.well-known/agent-card.json` (and the legacy `/.well-known/agent.json`)
 * and sent with register. Valid for both versions: the v0.3 fields (`url`, `protocolVersion`,
 * `preferredTransport`) and v1.0's `supportedInterfaces` (one JSON-RPC endpoint, both versions).
 * `capabilities` claims only what is implemented: streaming follows `a2a.streaming`; push
 * notifications are not implemented (preflight warns when `a2a.push_notifications` asks for them).
 * @internal
 */
export function agentCard(config: WorkspaceConfig, url: string): Record<string, unknown> {
  return {
    name: config.name,
    description: config.description,
    version: config.version,
    url,
    protocolVersion: PROTOCOL_VERSIONS.v03,
    preferredTransport: "JSONRPC",
    supportedInterfaces: [
      { url, protocolBinding: "JSONRPC", protocolVersion: PROTOCOL_VERSIONS.v1 },
      { url, protocolBinding: "JSONRPC", protocolVersion: PROTOCOL_VERSIONS.v03 },
    ],
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: config.skills.map((skill) => ({ id: skill, name: skill, description: `${skill} skill`, tags: [] })),
    capabilities: { streaming: config.a2a.streaming, pushNotifications: false },
  };
}
