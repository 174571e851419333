import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

// docs/ARCHITECTURE.md's house rule "one writer per fact", checked: every property write in the
// package's source (`x.p = …`, `x.p += …`, `x.p++`, `delete x.p`) is grouped by the declaration the
// type checker resolves `p` to, and no declaration may be written from two files. State the parts
// share is read through views and changed through the owner's methods instead.

const root = join(import.meta.dirname, "..");

function writersByDeclaration(): Map<string, Set<string>> {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, "tsconfig.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic() {},
    },
  );
  if (!config) throw new Error("cannot read tsconfig.json");
  const files = config.fileNames.filter((f) => f.includes("/src/") && !/\.test(-d)?\.ts$|test-support\.ts$/.test(f));
  const program = ts.createProgram(files, config.options);
  const checker = program.getTypeChecker();
  const writers = new Map<string, Set<string>>();
  const rel = (file: string) => file.slice(file.indexOf("/src/") + 5);
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (!source) continue;
    const visit = (node: ts.Node) => {
      let target: ts.Expression | undefined;
      if (
        ts.isBinaryExpression(node) &&
        node.operatorToken.kind >= ts.SyntaxKind.FirstAssignment &&
        node.operatorToken.kind <= ts.SyntaxKind.LastAssignment
      )
        target = node.left;
      if (
        (ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) &&
        (node.operator === ts.SyntaxKind.PlusPlusToken || node.operator === ts.SyntaxKind.MinusMinusToken)
      )
        target = node.operand;
      if (ts.isDeleteExpression(node)) target = node.expression;
      if (target && (ts.isPropertyAccessExpression(target) || ts.isElementAccessExpression(target))) {
        const name = ts.isPropertyAccessExpression(target) ? target.name : target.argumentExpression;
        const symbol = checker.getSymbolAtLocation(name);
        const declaration = symbol?.declarations?.[0];
        const key = declaration
          ? `${rel(declaration.getSourceFile().fileName)}:${symbol?.name}`
          : `${rel(file)}:${target.getText()}`;
        const set = writers.get(key) ?? new Set<string>();
        set.add(rel(file));
        writers.set(key, set);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return writers;
}

describe("one writer per fact", () => {
  it("no property is written from two source files", () => {
    const writers = writersByDeclaration();
    // The counters are there, written by their owners only (a guard that the walk sees the writes).
    expect([...(writers.get("beat/types.ts:beatsOk") ?? [])]).toEqual(["beat/counters.ts"]);
    expect([...(writers.get("delegations/types.ts:wakeUpsSent") ?? [])]).toEqual(["delegations/wake.ts"]);
    const shared = [...writers].filter(([, files]) => files.size > 1).map(([key, files]) => `${key}: ${[...files]}`);
    expect(shared).toEqual([]);
  });
});
