import type { WorkspaceConfig } from "@molecule/config";

/** The A2A protocol versions the daemon answers on its one JSON-RPC endpoint. */
export const PROTOCOL_VERSIONS = { v03: "0.3.0", v1: "1.0" } as const;

/**
 * The agent card served at `/.well-known/agent-card.json` (and the legacy `/.well-known/agent.json`)
 * and sent with register. Valid for both versions: the v0.3 fields (`url`, `protocolVersion`,
 * `preferredTransport`) and v1.0's `supportedInterfaces` (one JSON-RPC endpoint, both versions).
 * `capabilities` claims only what is implemented: streaming follows `a2a.streaming` (with it the
 * stream methods and `tasks/resubscribe` / `SubscribeToTask` are served, without it none of them);
 * push notifications are not implemented, whatever the config says (a caller's webhook URL would have
 * the daemon POST wherever it is told, from inside the cluster; preflight warns when
 * `a2a.push_notifications` asks for them).
 * With `a2a.auth: bearer` the card declares the scheme for both versions at once: v0.3's
 * `securitySchemes.bearer` (`type: http`, `scheme: bearer`) and `security`, v1.0's
 * `httpAuthSecurityScheme` in the same entry and `securityRequirements` (each SDK reads its own keys).
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
    ...(config.a2a.auth === "bearer" ? BEARER : {}),
  };
}

const BEARER_DESCRIPTION = "The workspace's A2A token (a2a.auth_token_file) as Authorization: Bearer <token>";

/** `a2a.auth: bearer` in the card, for v0.3 and v1.0 readers at once. */
const BEARER = {
  securitySchemes: {
    bearer: {
      type: "http",
      scheme: "bearer",
      description: BEARER_DESCRIPTION,
      httpAuthSecurityScheme: { scheme: "Bearer", description: BEARER_DESCRIPTION, bearerFormat: "" },
    },
  },
  security: [{ bearer: [] }],
  securityRequirements: [{ schemes: { bearer: { list: [] } } }],
};
