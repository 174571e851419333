import { describe, expect, it } from "vitest";
import { CAPABILITY_NAMES, capabilityFlags } from "./capabilities.js";

describe("capabilities", () => {
  it("lists the seven docs/CONTRACT.md flags in order", () => {
    expect(CAPABILITY_NAMES).toEqual([
      "heartbeat",
      "scheduler",
      "session",
      "status_mgmt",
      "retry",
      "activity_decoration",
      "channel_dispatch",
    ]);
  });

  it("builds a full flags object, false unless enabled", () => {
    expect(capabilityFlags({ heartbeat: true, status_mgmt: true })).toEqual({
      heartbeat: true,
      scheduler: false,
      session: false,
      status_mgmt: true,
      retry: false,
      activity_decoration: false,
      channel_dispatch: false,
    });
  });
});
