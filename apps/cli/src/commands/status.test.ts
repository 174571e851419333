import { adminStatusSchema } from "@molecule/runtime/admin";
import { describe, expect, it } from "vitest";
import { createStyle } from "../style.js";
import { renderStatus } from "./status.js";

const STATUS = {
  workspaceId: "w-1",
  url: "http://localhost:8000",
  registered: true,
  ready: false,
  draining: false,
  platformStatus: "degraded",
  wedge: { wedged: true, reason: "claude-code init timeout — restart workspace", since: "2026-01-01T00:00:00.000Z" },
  currentTask: "Reviewing",
  activeTasks: 1,
  queuedTasks: 2,
  lastOutcome: "wedged",
  beats: { ok: 7, failed: 1 },
  uptimeSeconds: 42,
};

describe("renderStatus", () => {
  it("renders every field of the daemon's status", () => {
    const text = renderStatus(adminStatusSchema.parse(STATUS), createStyle(false));
    expect(text).toContain("Platform     degraded (as last seen by the heartbeat)");
    expect(text).toContain(
      "Wedge        WEDGED: claude-code init timeout — restart workspace (since 2026-01-01T00:00:00.000Z)",
    );
    expect(text).toContain('Current task "Reviewing" (1 active, 2 queued)');
    expect(text).toContain("Last turn    wedged");
    expect(text).toContain("Beats        7 ok, 1 failed");
  });

  it("shows a status from a newer daemon with an outcome this CLI does not know", () => {
    const text = renderStatus(
      adminStatusSchema.parse({ ...STATUS, lastOutcome: "quota-exhausted" }),
      createStyle(false),
    );
    expect(text).toContain("Last turn    quota-exhausted");
  });

  it("before the first beat and the first turn", () => {
    const { platformStatus: _p, lastOutcome: _l, ...fresh } = STATUS;
    const text = renderStatus(adminStatusSchema.parse(fresh), createStyle(false));
    expect(text).toContain("Platform     not seen yet");
    expect(text).toContain("Last turn    no turn yet");
  });

  it("shows the last turn's usage and cost, labelled as the agent's estimate; none when it reported none", () => {
    const withUsage = {
      ...STATUS,
      lastOutcome: "ok",
      lastUsage: { input_tokens: 120, output_tokens: 7, cache_read_input_tokens: 50, cost_usd: 0.00123, model: "m-1" },
    };
    const text = renderStatus(adminStatusSchema.parse(withUsage), createStyle(false));
    expect(text).toContain("Last usage   120 in, 7 out, 50 cache read tokens, $0.0012 (m-1), the agent's estimate");
    expect(renderStatus(adminStatusSchema.parse(STATUS), createStyle(false))).not.toContain("Last usage");
  });

  it("colours only when asked", () => {
    const parsed = adminStatusSchema.parse(STATUS);
    expect(renderStatus(parsed, createStyle(true))).toContain("\u001b[31m");
    expect(renderStatus(parsed, createStyle(false))).not.toContain("\u001b[");
  });
});
