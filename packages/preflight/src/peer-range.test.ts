import { describe, expect, it } from "vitest";
import { peerRangeIssues } from "./index.js";

const at = (range: string, version: string) =>
  peerRangeIssues({ dependent: "@acme/adapter 1.0.0", peer: "@molecule/runtime", range, version });

describe("peerRangeIssues", () => {
  it("says nothing when the running version is in the declared range, prereleases included", () => {
    expect(at("^0.4.0", "0.4.7")).toEqual([]);
    expect(at(">=0.4 <1", "0.5.0-rc.1")).toEqual([]);
    expect(at("0.x || 1.x", "1.2.0")).toEqual([]);
  });

  it("warns, naming the range, the version and what to do, when the version is outside it", () => {
    const [issue, ...rest] = at("^0.4.0", "0.5.0");
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ severity: "warn", code: "W_PEER_RANGE_UNSATISFIED" });
    expect(issue?.detail).toBe(
      '@acme/adapter 1.0.0 declares peerDependencies["@molecule/runtime"] = "^0.4.0"; the running @molecule/runtime is 0.5.0',
    );
    expect(issue?.fix).toContain("@molecule/runtime in ^0.4.0");
  });

  it("warns that a range which is not semver could not be compared", () => {
    expect(at("latest-and-greatest", "0.5.0")).toEqual([
      expect.objectContaining({ severity: "warn", code: "W_PEER_RANGE_INVALID" }),
    ]);
  });
});
