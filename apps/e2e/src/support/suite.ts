import { removeDir, tempDir } from "@molecule/test-support";
import { startTestPlatform, type TestPlatform, type TestPlatformOptions } from "@molecule/testkit";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { stopAllDaemons } from "./daemon.js";

export interface E2eSuite {
  /** The file's test platform: one per file, started before its first test, closed after its last. */
  readonly platform: TestPlatform;
  /** A fresh temp dir for the current test. */
  readonly tmp: string;
}

/**
 * The before/after every e2e file shares; call it once at the top of the file. One test platform per
 * file; per test a fresh temp dir, and after the test every daemon still running killed (its dirs and
 * registered cleanups with it) before the temp dir is removed. A file's own `afterEach` registered
 * after this call runs before this cleanup (vitest runs after-hooks in reverse order).
 */
export function e2eSuite(tmpPrefix: string, platformOptions: TestPlatformOptions = {}): E2eSuite {
  let platform: TestPlatform | undefined;
  let tmp: string | undefined;
  beforeAll(async () => {
    platform = await startTestPlatform(platformOptions);
  });
  afterAll(async () => {
    await platform?.close();
    platform = undefined;
  });
  beforeEach(async () => {
    tmp = await tempDir(tmpPrefix);
  });
  afterEach(async () => {
    await stopAllDaemons();
    if (tmp !== undefined) await removeDir(tmp);
    tmp = undefined;
  });
  return {
    get platform() {
      if (platform === undefined) throw new Error("e2eSuite: the platform exists from beforeAll to afterAll");
      return platform;
    },
    get tmp() {
      if (tmp === undefined) throw new Error("e2eSuite: tmp exists inside a test (beforeEach to afterEach)");
      return tmp;
    },
  };
}
