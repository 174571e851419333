import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { CAPABILITY_NAMES, capabilityFlags } from "./capabilities.js";

describe("capabilities", () => {
  it("are the flags docs/CONTRACT.md's runtime_metadata row lists, in its order", async () => {
    const contract = await readFile(new URL("../../../docs/CONTRACT.md", import.meta.url), "utf8");
    const row = contract.split("\n").find((line) => line.startsWith("| `runtime_metadata`"));
    const listed = /\{"capabilities": \{([^}]*)\}/.exec(row ?? "")?.[1];
    const names = [...(listed ?? "").matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(0);
    expect(CAPABILITY_NAMES).toEqual(names);
  });

  it("builds a full flags object in that order, false unless enabled", () => {
    const flags = capabilityFlags({ heartbeat: true, status_mgmt: true });
    expect(Object.keys(flags)).toEqual([...CAPABILITY_NAMES]);
    expect(Object.keys(flags).filter((name) => flags[name as keyof typeof flags])).toEqual([
      "heartbeat",
      "status_mgmt",
    ]);
    expect(Object.values(capabilityFlags()).every((on) => on === false)).toBe(true);
  });
});
