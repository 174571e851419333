/**
 * Each published package declares its own `Clock` and logger types (a public type must not come
 * from this private package), and they must stay the same shape: a `createFakeClock()` from
 * `@molecule/testkit` or one pino logger has to fit every package. vitest typechecks this file.
 */
import { describe, expectTypeOf, it } from "vitest";
import type { Clock as AuthClock } from "../../auth/src/clock.ts";
import type { AuthLogger } from "../../auth/src/logger.ts";
import type { Clock as HeartbeatClock, HeartbeatLogger } from "../../heartbeat/src/types.ts";
import type { Clock as PreflightClock } from "../../preflight/src/clock.ts";
import type { PreflightLogger } from "../../preflight/src/types.ts";
import type { SessionLogger } from "../../session/src/logger.ts";
import type { FakeClock, Clock as TestkitClock } from "../../testkit/src/clock.ts";
import type { WedgeLogger } from "../../wedge/src/state.ts";
import type { Clock } from "./clock.js";
import type { Logger } from "./logger.js";

describe("public types declared in each package", () => {
  it("every package's Clock is the same type", () => {
    expectTypeOf<AuthClock>().toEqualTypeOf<Clock>();
    expectTypeOf<HeartbeatClock>().toEqualTypeOf<Clock>();
    expectTypeOf<PreflightClock>().toEqualTypeOf<Clock>();
    expectTypeOf<TestkitClock>().toEqualTypeOf<Clock>();
    expectTypeOf<FakeClock>().toExtend<Clock>();
  });

  it("every package's logger is the same pino-compatible shape", () => {
    expectTypeOf<AuthLogger>().toEqualTypeOf<Logger>();
    expectTypeOf<HeartbeatLogger>().toEqualTypeOf<Logger>();
    expectTypeOf<PreflightLogger>().toEqualTypeOf<Logger>();
    expectTypeOf<SessionLogger>().toEqualTypeOf<Logger>();
    // The wedge takes only warn and info: any package's logger fits it.
    expectTypeOf<Logger>().toExtend<WedgeLogger>();
  });
});
