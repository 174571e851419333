import semver from "semver";
import type { CheckIssue } from "./types.js";

/** A package's declared `peerDependencies` range on a peer, and the peer's running version. */
export interface PeerRangeOptions {
  /** The package that declares the range, as the report names it (e.g. `@acme/molecule-adapter-echo 1.2.0`). */
  dependent: string;
  /** The peer the range is about (e.g. `@molecule/runtime`). */
  peer: string;
  /** The declared range, `peerDependencies[peer]` (e.g. `^0.4.0`). */
  range: string;
  /** The peer's running version (e.g. `0.5.1`). */
  version: string;
}

/**
 * Warnings (never failures) when a package declares a peer range that the running peer's version is
 * outside (`W_PEER_RANGE_UNSATISFIED`), or a range that is not semver (`W_PEER_RANGE_INVALID`); none
 * when the version is in it. Prereleases count (`0.5.0-rc.1` is in `>=0.4`).
 */
export function peerRangeIssues(options: PeerRangeOptions): CheckIssue[] {
  const { dependent, peer, range, version } = options;
  if (semver.validRange(range, { includePrerelease: true }) === null) {
    return [
      {
        severity: "warn",
        code: "W_PEER_RANGE_INVALID",
        title: `Peer range on ${peer} not understood`,
        detail: `${dependent} declares peerDependencies["${peer}"] = "${range}", which is not a semver range, so it was not compared with ${peer} ${version}`,
        fix: `Check by hand that ${dependent} supports ${peer} ${version}, and ask its author to fix the range.`,
      },
    ];
  }
  if (semver.satisfies(version, range, { includePrerelease: true })) return [];
  return [
    {
      severity: "warn",
      code: "W_PEER_RANGE_UNSATISFIED",
      title: `${peer} version outside the declared peer range`,
      detail: `${dependent} declares peerDependencies["${peer}"] = "${range}"; the running ${peer} is ${version}`,
      fix: `Install a version of ${dependent} made for ${peer} ${version}, or run a ${peer} in ${range}; if you keep both, check that a turn works before going live.`,
    },
  ];
}
