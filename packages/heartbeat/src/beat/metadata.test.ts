import { CAPABILITY_NAMES } from "@molecule/internal";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { metadataProblem } from "./metadata.js";

// The hand-written check (zod is not loaded before the first beat) answers as the zod schema did.
const schema = z.object({
  capabilities: z.object(Object.fromEntries(CAPABILITY_NAMES.map((name) => [name, z.boolean()]))),
  idle_timeout_seconds: z.int().positive().optional(),
});
function zodProblem(value: unknown): string | undefined {
  const parsed = schema.safeParse(value);
  if (parsed.success) return undefined;
  return parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(the result)"}: ${issue.message}`)
    .join("; ");
}

const caps = Object.fromEntries(CAPABILITY_NAMES.map((name) => [name, true]));
const CASES: unknown[] = [
  undefined,
  null,
  5,
  "x",
  [],
  {},
  new Date(0),
  { capabilities: null },
  { capabilities: [] },
  { capabilities: 3 },
  { capabilities: {} },
  { capabilities: { ...caps, retry: "yes" } },
  { capabilities: { ...caps, retry: null, session: 1 }, idle_timeout_seconds: 0 },
  { capabilities: { ...caps, scheduler: [] } },
  { capabilities: caps },
  { capabilities: { ...caps, extra: 1 }, other: true },
  ...[
    1,
    900,
    1.5,
    0,
    -3,
    "9",
    null,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 60,
    3n,
    true,
  ].map((idle) => ({ capabilities: caps, idle_timeout_seconds: idle })),
];

describe("metadataProblem", () => {
  it.each(CASES.map((value, i) => [i, value]))("case %i answers as the zod schema does", (_i, value) => {
    expect(metadataProblem(value)).toBe(zodProblem(value));
  });

  it("names the nested field", () => {
    expect(metadataProblem({ capabilities: { ...caps, retry: "yes" } })).toBe(
      "capabilities.retry: Invalid input: expected boolean, received string",
    );
    expect(metadataProblem({ capabilities: caps, idle_timeout_seconds: 900 })).toBeUndefined();
  });
});
