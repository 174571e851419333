import { describe, expect, it } from "vitest";
import { type Issue, type PreflightReport, renderReport } from "./index.js";

const issue = (severity: Issue["severity"], title: string): Issue => ({
  severity,
  check: "c",
  code: severity === "fail" ? "E_X" : "W_X",
  title,
  detail: `${title} detail`,
  fix: `fix ${title}`,
});

const report = (failures: Issue[], warnings: Issue[]): PreflightReport => ({
  ok: failures.length === 0,
  failures,
  warnings,
  checks: [],
});

describe("renderReport", () => {
  it("prints nothing when there are no failures and no warnings", () => {
    expect(renderReport(report([], []))).toBe("");
    expect(renderReport(report([], []), { color: true })).toBe("");
  });

  it("prints failures before warnings in the operators' format", () => {
    const text = renderReport(report([issue("fail", "A"), issue("fail", "B")], [issue("warn", "C")]));
    expect(text).toBe(
      [
        "Preflight checks:",
        "[FAIL] A: A detail",
        "  Fix: fix A",
        "[FAIL] B: B detail",
        "  Fix: fix B",
        "[WARN] C: C detail",
        "  Fix: fix C",
        "",
      ].join("\n"),
    );
  });

  it("warnings alone are printed too", () => {
    expect(renderReport(report([], [issue("warn", "W")]))).toContain("[WARN] W: W detail");
  });

  it("colours only when asked", () => {
    const plain = renderReport(report([issue("fail", "A")], [issue("warn", "B")]));
    const coloured = renderReport(report([issue("fail", "A")], [issue("warn", "B")]), { color: true });
    expect(plain).not.toContain("\u001b[");
    expect(coloured).toContain("\u001b[31;1m[FAIL]\u001b[0m A: A detail");
    expect(coloured).toContain("\u001b[33m[WARN]\u001b[0m B: B detail");
  });
});
