import { type WorkspaceConfigInput, workspaceConfigSchema } from "@molecule/config";
import { describe, expect, it } from "vitest";
import { agentCard } from "./agent-card.js";

const config = (input: WorkspaceConfigInput = {}) => workspaceConfigSchema.parse(input);

describe("agentCard capabilities: only what is served", () => {
  it("streaming follows a2a.streaming (message/stream and tasks/resubscribe are served with it)", () => {
    expect(agentCard(config(), "http://x/").capabilities).toEqual({ streaming: true, pushNotifications: false });
    expect(agentCard(config({ a2a: { streaming: false } }), "http://x/").capabilities).toMatchObject({
      streaming: false,
    });
  });

  it("push notifications are never claimed, even when a2a.push_notifications asks for them", () => {
    const card = agentCard(config({ a2a: { push_notifications: true } }), "http://x/");
    expect(card.capabilities).toMatchObject({ pushNotifications: false });
  });
});
