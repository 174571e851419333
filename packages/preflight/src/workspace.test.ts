import { describe, expect, it } from "vitest";
import { PreflightError } from "./errors.js";
import { config } from "./testing.js";
import { workspaceChecks } from "./workspace.js";

const names = (...args: Parameters<typeof workspaceChecks>) => workspaceChecks(...args).map((c) => c.name);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("did not throw");
}

describe("workspaceChecks({ only, skip })", () => {
  it("only keeps the named checks, in report order", () => {
    expect(names(undefined, { only: ["agent-auth", "workspace-id"] })).toEqual(["workspace-id", "agent-auth"]);
  });

  it("skip drops the named checks", () => {
    const all = names(undefined);
    const some = names(undefined, { skip: ["skills", "prompt-files"] });
    expect(some).toEqual(all.filter((n) => n !== "skills" && n !== "prompt-files"));
  });

  it("only and skip combine: only picks, skip then drops", () => {
    expect(names(undefined, { only: ["runtime", "required-env", "skills"], skip: ["required-env"] })).toEqual([
      "runtime",
      "skills",
    ]);
  });

  it("only the auth gate, for a daemon's readiness; nothing for the command and adapter runtimes", () => {
    expect(names(config(), { only: ["agent-auth"] })).toEqual(["agent-auth"]);
    const command = config({ runtime: "command", runtime_config: { command: "/bin/true" } });
    expect(names(command, { only: ["agent-auth"] })).toEqual([]);
    const adapter = config({ runtime: "adapter", runtime_config: { module: "./adapter.mjs" } });
    expect(names(adapter, { only: ["agent-auth"] })).toEqual([]);
  });

  it("an unknown name throws E_PREFLIGHT_UNKNOWN_CHECK naming it and the valid names", () => {
    for (const options of [{ only: ["agent-auth", "agent-login"] }, { skip: ["agent-login"] }]) {
      const error = thrown(() => workspaceChecks(undefined, options));
      expect(PreflightError.isInstance(error)).toBe(true);
      expect((error as PreflightError).code).toBe("E_PREFLIGHT_UNKNOWN_CHECK");
      expect((error as PreflightError).message).toContain('"agent-login"');
      expect((error as PreflightError).message).toContain("agent-auth");
    }
    // The config-loading step is not one of the workspace checks.
    expect((thrown(() => workspaceChecks(undefined, { only: ["config"] })) as PreflightError).code).toBe(
      "E_PREFLIGHT_UNKNOWN_CHECK",
    );
  });

  it("a non-array throws E_PREFLIGHT_BAD_OPTIONS", () => {
    const error = thrown(() => workspaceChecks(undefined, { only: "agent-auth" as unknown as string[] }));
    expect((error as PreflightError).code).toBe("E_PREFLIGHT_BAD_OPTIONS");
  });

  it("agentChecks: false with a selection: the warning only when an agent check was selected", () => {
    expect(names(undefined, { only: ["runtime", "agent-binary"], agentChecks: false })).toEqual(["runtime", "agent"]);
    expect(names(undefined, { only: ["runtime"], agentChecks: false })).toEqual(["runtime"]);
  });
});
