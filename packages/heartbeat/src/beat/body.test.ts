import { describe, expect, it } from "vitest";
import { METADATA } from "../test-support.js";
import { buildHeartbeatBody } from "./body.js";

const metadata = METADATA;
const tasks = { active: 2, currentLabel: "fixing #12", errorRate: 0.25, sampleError: "agent timed out" };

describe("buildHeartbeatBody", () => {
  it("carries every docs/CONTRACT.md field, runtime_metadata included, and no runtime_state when healthy", () => {
    const body = buildHeartbeatBody({
      workspaceId: "ws-1",
      uptimeSeconds: 42.9,
      tasks,
      wedge: { wedged: false, reason: "" },
      metadata,
    });
    expect(body).toEqual({
      workspace_id: "ws-1",
      error_rate: 0.25,
      sample_error: "agent timed out",
      active_tasks: 2,
      current_task: "fixing #12",
      uptime_seconds: 42,
      runtime_metadata: metadata,
    });
    expect("runtime_state" in body).toBe(false);
  });

  it("while wedged: runtime_state wedged and the wedge reason as sample_error", () => {
    const body = buildHeartbeatBody({
      workspaceId: "ws-1",
      uptimeSeconds: 5,
      tasks,
      wedge: { wedged: true, reason: "claude-code init timeout — restart workspace" },
      metadata,
    });
    expect(body.runtime_state).toBe("wedged");
    expect(body.sample_error).toBe("claude-code init timeout — restart workspace");
    expect(body.runtime_metadata).toEqual(metadata);
  });

  it("the final beat says nothing is running", () => {
    const body = buildHeartbeatBody({
      workspaceId: "ws-1",
      uptimeSeconds: 5,
      tasks,
      wedge: { wedged: false, reason: "" },
      metadata,
      final: true,
    });
    expect(body).toMatchObject({ active_tasks: 0, current_task: "" });
  });

  it("drops an invalid idle_timeout_seconds and clamps error_rate to 0..1", () => {
    const body = buildHeartbeatBody({
      workspaceId: "ws-1",
      uptimeSeconds: 5,
      tasks: { ...tasks, errorRate: 3 },
      wedge: { wedged: false, reason: "" },
      metadata: { ...metadata, idle_timeout_seconds: -1 },
    });
    expect(body.error_rate).toBe(1);
    expect(body.runtime_metadata).toEqual({ capabilities: metadata.capabilities });
  });
});
