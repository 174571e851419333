import type * as Zod from "zod";

/**
 * Modules the first beat does not need, loaded on first use: importing zod and undici costs
 * ~100–400 ms each on a cold start, so the package's import stays light and the first beat goes out
 * on Node's built-in fetch while they load. @internal
 */
export type ZodModule = typeof Zod;

let zod: Promise<ZodModule> | undefined;

/** zod, imported once. @internal */
export function loadZod(): Promise<ZodModule> {
  zod ??= import("zod");
  return zod;
}

/** A zod schema built on first use (and zod imported then). @internal */
export function lazySchema<T>(build: (z: ZodModule) => T): () => Promise<T> {
  let schema: Promise<T> | undefined;
  return () => {
    schema ??= loadZod().then(build);
    return schema;
  };
}
