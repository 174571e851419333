import { watch as fsWatch } from "node:fs";
import * as fsp from "node:fs/promises";

/** The stat fields the token store reads (a `BigIntStats` from `stat(path, { bigint: true })`). */
export interface TokenStat {
  ino: bigint;
  size: bigint;
  mode: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The part of a `node:fs/promises` `FileHandle` the token store uses. */
export interface TokenFileHandle {
  stat(options: { bigint: true }): Promise<TokenStat>;
  readFile(options: { encoding: "utf8" }): Promise<string>;
  writeFile(data: string, options: { encoding: "utf8" }): Promise<void>;
  chmod(mode: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** What `fs.watch` returns, as far as the token store cares. */
export interface TokenWatcher {
  close(): void;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * The filesystem seam of `createTokenStore` (option `fs`). Defaults to `node:fs/promises` and
 * `node:fs.watch`; pass a partial object to replace single calls, e.g. to inject a failure at one
 * step of `save` in a crash-safety test.
 */
export interface TokenStoreFs {
  stat(path: string, options: { bigint: true }): Promise<TokenStat>;
  open(path: string, flags: string, mode?: number): Promise<TokenFileHandle>;
  rename(from: string, to: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  unlink(path: string): Promise<void>;
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<unknown>;
  watch(dir: string, listener: (event: string, filename: string | null) => void): TokenWatcher;
}

/** @internal */
export const nodeTokenFs: TokenStoreFs = {
  stat: (path, options) => fsp.stat(path, options),
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  rename: (from, to) => fsp.rename(from, to),
  chmod: (path, mode) => fsp.chmod(path, mode),
  unlink: (path) => fsp.unlink(path),
  mkdir: (path, options) => fsp.mkdir(path, options),
  watch: (dir, listener) =>
    fsWatch(dir, { persistent: false }, (event, filename) =>
      listener(event, filename === null ? null : String(filename)),
    ),
};
