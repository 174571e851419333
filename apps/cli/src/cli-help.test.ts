import { AGENTS } from "@molecule/auth";
import { describe, expect, it } from "vitest";
import { main } from "./cli.js";

async function help(argv: string[]): Promise<string> {
  let out = "";
  const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (out += t) }, env: {} };
  expect(await main(argv, io)).toBe(0);
  return out.replace(/\s+/g, " ");
}

describe("molecule auth check --help", () => {
  it("lists the agent registry's ids for --agent", async () => {
    const ids = AGENTS.map((a) => a.id).join(", ");
    for (const argv of [
      ["auth", "check", "--help"],
      ["auth", "check", "-h"],
      ["auth", "help", "check"],
    ]) {
      expect(await help(argv)).toContain(`--agent <name> check this agent instead of the config's runtime (${ids})`);
    }
  });
});
