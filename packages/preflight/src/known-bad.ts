import type { AgentDescriptor } from "@molecule/auth";
import semver from "semver";
import type { CheckIssue } from "./types.js";

/**
 * Warnings for an installed agent version that one of the descriptor's `knownBadVersions` ranges
 * matches. The version is the first version number in the `--version` output (`2.1.197 (Claude Code)`,
 * `codex-cli 0.46.0`), prerelease included, so `2.1.5-beta.1` matches `>=2.1.5-0`. @internal
 */
export function knownBadVersionIssues(agent: AgentDescriptor, versionOutput: string): CheckIssue[] {
  const ranges = agent.knownBadVersions ?? [];
  if (ranges.length === 0) return [];
  const version = semver.coerce(versionOutput, { includePrerelease: true });
  if (version === null) {
    return [
      {
        severity: "warn",
        code: "W_AGENT_VERSION_UNKNOWN",
        title: "Agent version not understood",
        detail: `${agent.id}: "${versionOutput}" holds no x.y.z version, so it cannot be compared with the ${ranges.length === 1 ? "range" : "ranges"} known to be bad (${ranges.map((r) => r.range).join(", ")})`,
        fix: `Check by hand that the installed ${agent.binary} is not one of those versions.`,
      },
    ];
  }
  const issues: CheckIssue[] = [];
  for (const { range, reason } of ranges) {
    if (semver.validRange(range, { includePrerelease: true }) === null) {
      issues.push({
        severity: "warn",
        code: "W_AGENT_VERSION_RANGE_INVALID",
        title: "Invalid known-bad version range",
        detail: `${agent.id}: knownBadVersions range "${range}" is not a semver range, so it was not checked`,
        fix: 'Fix the range in the agent\'s descriptor (semver syntax, e.g. ">=2.1.0 <2.1.5").',
      });
      continue;
    }
    if (!semver.satisfies(version, range, { includePrerelease: true })) continue;
    issues.push({
      severity: "warn",
      code: "W_AGENT_VERSION_KNOWN_BAD",
      title: "Agent version known to be bad",
      detail: `${agent.id} ${version.version} is in ${range}: ${reason}`,
      fix: `Install a version of ${agent.binary} outside ${range} (or point runtime_config.command at one).`,
    });
  }
  return issues;
}
