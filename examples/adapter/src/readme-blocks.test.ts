// The READMEs show exactly the code the adapter tests run: each ```ts usage block is one of these
// files, byte for byte (the release rehearsal type-checks and runs the same blocks against the
// published packages).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readReadme } from "../../../scripts/lib/usage-blocks.mjs";

const ROOT = join(import.meta.dirname, "..", "..", "..");

const BLOCKS = [
  { readme: "packages/heartbeat/README.md", index: 1, file: "sidecar.ts" },
  { readme: "apps/runtime/README.md", index: 1, file: "echo-agent.ts" },
  { readme: "apps/runtime/README.md", index: 2, file: "command-agent.ts" },
  { readme: "packages/wedge/README.md", index: 1, file: "readme/wedge.ts" },
  { readme: "packages/auth/README.md", index: 1, file: "readme/auth.ts" },
  { readme: "packages/session/README.md", index: 1, file: "readme/session.ts" },
  { readme: "packages/preflight/README.md", index: 1, file: "readme/preflight.ts" },
] as const;

describe("README usage blocks are the adapters the tests run", () => {
  it.each(BLOCKS)("$readme usage block $index is src/$file", ({ readme, index, file }) => {
    const { usage } = readReadme(join(ROOT, readme));
    const block = usage.find((b) => b.index === index);
    expect(block, `${readme} has no \`\`\`ts usage block #${index}`).toBeDefined();
    expect(`${block?.code.trim()}\n`).toBe(readFileSync(join(import.meta.dirname, file), "utf8"));
  });

  it("each README's install line names every package its usage blocks import", () => {
    for (const readme of new Set(BLOCKS.map((b) => b.readme))) {
      const { usage, install } = readReadme(join(ROOT, readme));
      const installed = new Set(install.filter((c) => !c.global).flatMap((c) => c.packages));
      const imported = new Set(
        usage.flatMap((b) => [...b.code.matchAll(/from "(@molecule\/[\w-]+)/g)].map((m) => m[1])),
      );
      for (const name of imported) expect(installed, `${readme}: npm install … ${name}`).toContain(name);
    }
  });
});
