import { describe, expect, it } from "vitest";
import { parseDaemonStatus } from "./admin.js";
import { renderStatus } from "./status.js";
import { createStyle } from "./style.js";

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

describe("parseDaemonStatus", () => {
  it("accepts the daemon's status and renders every field", () => {
    const parsed = parseDaemonStatus(STATUS);
    expect(parsed).toEqual(STATUS);
    const text = renderStatus(parsed ?? STATUS, createStyle(false));
    expect(text).toContain("Platform     degraded (as last seen by the heartbeat)");
    expect(text).toContain(
      "Wedge        WEDGED: claude-code init timeout — restart workspace (since 2026-01-01T00:00:00.000Z)",
    );
    expect(text).toContain('Current task "Reviewing" (1 active, 2 queued)');
    expect(text).toContain("Last turn    wedged");
    expect(text).toContain("Beats        7 ok, 1 failed");
  });

  it("rejects what is not a status", () => {
    expect(parseDaemonStatus({ error: "not found" })).toBeUndefined();
    expect(parseDaemonStatus(null)).toBeUndefined();
    expect(parseDaemonStatus({ ...STATUS, beats: 3 })).toBeUndefined();
  });

  it("colours only when asked", () => {
    const parsed = parseDaemonStatus(STATUS);
    expect(renderStatus(parsed ?? STATUS, createStyle(true))).toContain("\u001b[31m");
    expect(renderStatus(parsed ?? STATUS, createStyle(false))).not.toContain("\u001b[");
  });
});
