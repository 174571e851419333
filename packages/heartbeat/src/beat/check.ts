import type { HttpClient } from "../http.js";
import { lazySchema } from "../lazy.js";
import { type HeartbeatLogger, type PlatformTokens, parseJson } from "../types.js";
import { type Counters, type HeartbeatEvents, safeHeaders } from "./counters.js";

const workspaceView = lazySchema((z) => z.object({ status: z.string() }));

/** What the platform check uses. @internal */
export interface PlatformCheckInput {
  /** `<base>/workspaces/<id>` */
  workspaceUrl: string;
  workspaceId: string;
  requestTimeoutMs: number;
  tokens: PlatformTokens;
  http: HttpClient;
  logger: HeartbeatLogger;
  counters: Pick<Counters, "platformStatus">;
  emitOutageRecovered: HeartbeatEvents["emitOutageRecovered"];
  /** Aborted by `stop()`. */
  signal: AbortSignal;
  stopping: () => boolean;
}

/** @internal */
export interface PlatformCheck {
  run(): Promise<void>;
  /** Checks in flight now. */
  inFlight(): number;
}

/**
 * The platform's view of us: `GET /workspaces/:id` (without Authorization). A 404 or `offline` means
 * the platform lost this workspace: `onOutageRecovered` fires with `platform-lost`. @internal
 */
export function createPlatformCheck(input: PlatformCheckInput): PlatformCheck {
  const { counters, logger, workspaceId } = input;
  let inFlight = 0;
  const run = async () => {
    inFlight += 1;
    try {
      const headers = await safeHeaders(input.tokens, logger);
      const noAuth: Record<string, string> = {};
      for (const [key, value] of Object.entries(headers))
        if (key.toLowerCase() !== "authorization") noAuth[key] = value;
      const res = await input.http.send({
        method: "GET",
        url: input.workspaceUrl,
        headers: noAuth,
        timeoutMs: input.requestTimeoutMs,
        signal: input.signal,
      });
      if (res.kind !== "response") return;
      let lost: string | undefined;
      if (res.status === 404) {
        counters.platformStatus("not-found");
        lost = "not-found";
      } else if (res.status === 200) {
        const parsed = (await workspaceView()).safeParse(parseJson(res.text));
        if (!parsed.success) return;
        counters.platformStatus(parsed.data.status);
        if (parsed.data.status === "offline") lost = "offline";
      }
      if (lost && !input.stopping()) {
        logger.warn(
          { event: "heartbeat.platform_lost", workspaceId, platformStatus: lost },
          "the platform has lost this workspace; re-register",
        );
        input.emitOutageRecovered({ reason: "platform-lost", platformStatus: lost });
      }
    } finally {
      inFlight -= 1;
    }
  };
  return { run, inFlight: () => inFlight };
}
