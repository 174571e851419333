import type { AgentDescriptor } from "@molecule/auth";
import semver, { type SemVer } from "semver";
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

/**
 * The part of a version that compatibility follows: the major, or for a 0.x version the minor
 * (semver's caret rule: 0.169 and 0.170 may break each other as 1.x and 2.x do). @internal
 */
export function compatibleLine(version: SemVer): string {
  return version.major === 0 ? `0.${version.minor}` : `${version.major}`;
}

function untestedVersionIssues(agent: AgentDescriptor, version: SemVer): CheckIssue[] {
  const tested = semver.parse(agent.testedVersion ?? "");
  if (tested === null || compatibleLine(version) === compatibleLine(tested)) return [];
  const line = (v: SemVer) => (v.major === 0 ? `0.${v.minor}.x` : `${v.major}.x`);
  const install = agent.npmPackage
    ? `npm install -g ${agent.npmPackage}@${tested.version}`
    : `install ${agent.binary} ${tested.version}`;
  return [
    {
      severity: "warn",
      code: "W_AGENT_VERSION_UNTESTED",
      title: "Agent version differs from the tested one by a major version",
      detail: `${agent.id} ${version.version} (${line(version)}) is not ${line(tested)}: this runtime is tested with ${tested.version} (for 0.x versions the minor counts as the major, so 0.170 differs from 0.169); its command line, output or login files may have changed`,
      fix: `Install the tested version (${install}) or point runtime_config.command at it; if you keep ${version.version}, check that a turn works before going live.`,
    },
  ];
}

/**
 * The agent-binary check's version warnings for a `--version` output: one when its major (for 0.x,
 * its minor) differs from the descriptor's `testedVersion`, and the `knownBadVersions` ones.
 * An output without a version warns once that it cannot be compared. Warnings only. @internal
 */
export function agentVersionIssues(agent: AgentDescriptor, versionOutput: string): CheckIssue[] {
  const ranges = agent.knownBadVersions ?? [];
  const tested = semver.parse(agent.testedVersion ?? "");
  if (tested === null) return knownBadVersionIssues(agent, versionOutput);
  const version = semver.coerce(versionOutput, { includePrerelease: true });
  if (version === null) {
    const against = [`the tested version ${tested.version}`, ...ranges.map((r) => r.range)].join(", ");
    return [
      {
        severity: "warn",
        code: "W_AGENT_VERSION_UNKNOWN",
        title: "Agent version not understood",
        detail: `${agent.id}: "${versionOutput}" holds no x.y.z version, so it cannot be compared with ${against}`,
        fix: `Check by hand that the installed ${agent.binary} is a ${compatibleLine(tested)}.x version${ranges.length > 0 ? " outside the known-bad ranges" : ""}.`,
      },
    ];
  }
  return [...untestedVersionIssues(agent, version), ...knownBadVersionIssues(agent, versionOutput)];
}
