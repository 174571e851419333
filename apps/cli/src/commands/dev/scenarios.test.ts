import { describe, expect, it } from "vitest";
import { DEV_SCENARIOS } from "../../cli.js";
import { SCENARIOS } from "./scenarios.js";

describe("molecule dev --scenario", () => {
  it("offers exactly the scenarios there are (cli.ts keeps the names so --help loads no dev code)", () => {
    expect(SCENARIOS.map((s) => s.name)).toEqual([...DEV_SCENARIOS]);
  });
});
