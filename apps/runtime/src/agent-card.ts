import type { WorkspaceConfig } from "@molecule/config";

/** The A2A v0.3 agent card served at `/.well-known/agent-card.json` and sent with register. @internal */
export function agentCard(config: WorkspaceConfig, url: string): Record<string, unknown> {
  return {
    name: config.name,
    description: config.description,
    version: config.version,
    url,
    protocolVersion: "0.3.0",
    preferredTransport: "JSONRPC",
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: config.skills.map((skill) => ({ id: skill, name: skill, description: `${skill} skill`, tags: [] })),
    capabilities: { streaming: config.a2a.streaming, pushNotifications: config.a2a.push_notifications },
  };
}
