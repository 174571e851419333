import { workspaceConfigSchema } from "@molecule/config";
import { describe, expect, it } from "vitest";
import { DEFAULT_TURN_TIMEOUT_SECONDS, turnTimeoutSeconds } from "./choose-executor.js";

const config = (raw: object) => workspaceConfigSchema.parse(raw);

describe("turnTimeoutSeconds", () => {
  it("a built-in agent without runtime_config.timeout gets the finite default", () => {
    expect(DEFAULT_TURN_TIMEOUT_SECONDS).toBe(1800);
    for (const runtime of [undefined, "codex", "gemini-cli"]) {
      expect(turnTimeoutSeconds(config(runtime ? { runtime } : {}))).toBe(1800);
    }
  });

  it("an explicit value wins, 0 (no limit) included; the command runtime has no default limit", () => {
    expect(turnTimeoutSeconds(config({ runtime_config: { timeout: 90 } }))).toBe(90);
    expect(turnTimeoutSeconds(config({ runtime_config: { timeout: 0 } }))).toBe(0);
    expect(turnTimeoutSeconds(config({ runtime: "command", runtime_config: { command: "x" } }))).toBe(0);
  });
});
