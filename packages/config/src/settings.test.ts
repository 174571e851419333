import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { resolveAdvertiseUrl, resolveSettings } from "./index.js";

const ID = "3f2c1b7e-9a4d-4c2e-8f1a-0b6d5e7c9a21";

describe("resolveSettings", () => {
  it("applies the defaults and reports the two required variables", () => {
    const { settings, issues } = resolveSettings({});
    expect(settings).toEqual({
      workspaceId: undefined,
      configPath: "/configs",
      configsDir: "/configs",
      platformUrl: undefined,
      stateDir: "/configs/.molecule",
      advertiseUrl: undefined,
      hostname: hostname(),
      orgId: undefined,
      logLevel: "info",
    });
    expect(issues.map((i) => [i.variable, i.code, i.severity])).toEqual([
      ["WORKSPACE_ID", "E_ENV_MISSING", "fail"],
      ["PLATFORM_URL", "E_ENV_MISSING", "fail"],
    ]);
    for (const issue of issues) expect(issue.fix).toContain(issue.variable);
  });

  it("reads every variable", () => {
    const { settings, issues } = resolveSettings({
      WORKSPACE_ID: ID.toUpperCase(),
      WORKSPACE_CONFIG_PATH: "/srv/ws",
      CONFIGS_DIR: "/srv/secrets",
      PLATFORM_URL: "https://platform.example:8443/",
      MOLECULE_STATE_DIR: "/var/lib/molecule",
      MOLECULE_ADVERTISE_URL: "http://ws-1.internal:8000",
      HOSTNAME: "ws-1",
      MOLECULE_ORG_ID: "org-7",
      LOG_LEVEL: "DEBUG",
    });
    expect(issues).toEqual([]);
    expect(settings).toEqual({
      workspaceId: ID,
      configPath: "/srv/ws",
      configsDir: "/srv/secrets",
      platformUrl: "https://platform.example:8443",
      stateDir: "/var/lib/molecule",
      advertiseUrl: "http://ws-1.internal:8000",
      hostname: "ws-1",
      orgId: "org-7",
      logLevel: "debug",
    });
  });

  it("the token dir and state dir follow WORKSPACE_CONFIG_PATH unless set", () => {
    const { settings } = resolveSettings({ WORKSPACE_CONFIG_PATH: "/a/b" });
    expect(settings.configsDir).toBe("/a/b");
    expect(settings.stateDir).toBe("/a/b/.molecule");
  });

  it.each([
    ["WORKSPACE_ID", "not-a-uuid"],
    ["WORKSPACE_ID", `${ID}0`],
    ["PLATFORM_URL", "ftp://platform"],
    ["PLATFORM_URL", "platform:8080"],
    ["MOLECULE_ADVERTISE_URL", "not a url"],
  ])("a malformed %s is an issue, never a throw", (variable, value) => {
    const env = { WORKSPACE_ID: ID, PLATFORM_URL: "http://localhost:8080", [variable]: value };
    const { issues } = resolveSettings(env);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ variable, code: "E_ENV_INVALID", severity: "fail" });
    expect(issues[0]?.message).toContain(variable);
  });

  it("empty values count as missing", () => {
    const { issues } = resolveSettings({ WORKSPACE_ID: " ", PLATFORM_URL: "" });
    expect(issues.map((i) => i.code)).toEqual(["E_ENV_MISSING", "E_ENV_MISSING"]);
  });

  it("an unknown LOG_LEVEL warns and falls back to info", () => {
    const { settings, issues } = resolveSettings({ WORKSPACE_ID: ID, PLATFORM_URL: "http://p", LOG_LEVEL: "loud" });
    expect(settings.logLevel).toBe("info");
    expect(issues).toMatchObject([{ variable: "LOG_LEVEL", severity: "warn" }]);
  });

  it("resolveAdvertiseUrl prefers MOLECULE_ADVERTISE_URL, else hostname and the bound port", () => {
    const base = resolveSettings({ HOSTNAME: "ws-9" }).settings;
    expect(resolveAdvertiseUrl(base, 43123)).toBe("http://ws-9:43123");
    const explicit = resolveSettings({ HOSTNAME: "ws-9", MOLECULE_ADVERTISE_URL: "https://x.example/" }).settings;
    expect(resolveAdvertiseUrl(explicit, 43123)).toBe("https://x.example");
  });
});
