import { describe, expect, it } from "vitest";
import { setYamlValue } from "./yaml-edit.js";

const EXAMPLE = `# comment
name: x
runtime_config:
  # seconds
  timeout: 600
  required_env: []
a2a:
  port: 8000
  streaming: true
heartbeat:
  interval_seconds: 30
`;

describe("setYamlValue", () => {
  it("replaces a nested value in place and keeps everything else", () => {
    const out = setYamlValue(setYamlValue(EXAMPLE, "a2a", "port", "0"), "heartbeat", "interval_seconds", "1");
    expect(out).toBe(EXAMPLE.replace("port: 8000", "port: 0").replace("interval_seconds: 30", "interval_seconds: 1"));
  });

  it("adds a missing key at the block's indent, after the parent line", () => {
    const out = setYamlValue(EXAMPLE, "runtime_config", "command", JSON.stringify("/tmp/a b/claude"));
    expect(out).toContain('runtime_config:\n  command: "/tmp/a b/claude"\n  # seconds\n  timeout: 600\n');
  });

  it("adds a missing block at the end", () => {
    expect(setYamlValue("name: x\n", "a2a", "port", "0")).toBe("name: x\na2a:\n  port: 0\n");
  });

  it("follows a four-space indent and does not touch a same-named key of another block", () => {
    const text = "a:\n    port: 1\nb:\n    port: 2\n";
    expect(setYamlValue(text, "b", "port", "9")).toBe("a:\n    port: 1\nb:\n    port: 9\n");
  });

  it("replaces an inline value with a block", () => {
    expect(setYamlValue("heartbeat: {}\nname: x\n", "heartbeat", "interval_seconds", "1")).toBe(
      "heartbeat:\n  interval_seconds: 1\nname: x\n",
    );
  });
});
