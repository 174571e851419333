import * as z from "zod";
import { parseJson } from "../types.js";
import { emit, type HeartbeatState, safeHeaders } from "./state.js";

const workspaceView = z.object({ status: z.string() });

/**
 * The platform's view of us: `GET /workspaces/:id` (without Authorization). A 404 or `offline` means
 * the platform lost this workspace: `onOutageRecovered` fires with `platform-lost`. @internal
 */
export function createPlatformCheck(state: HeartbeatState): () => Promise<void> {
  const { counters, logger, workspaceId } = state;
  return async () => {
    state.checksInFlight += 1;
    try {
      const headers = await safeHeaders(state);
      const noAuth: Record<string, string> = {};
      for (const [key, value] of Object.entries(headers))
        if (key.toLowerCase() !== "authorization") noAuth[key] = value;
      const res = await state.http.send({
        method: "GET",
        url: state.workspaceUrl,
        headers: noAuth,
        timeoutMs: state.requestTimeoutMs,
        signal: state.aborter.signal,
      });
      if (res.kind !== "response") return;
      let lost: string | undefined;
      if (res.status === 404) {
        counters.platformStatus = "not-found";
        lost = "not-found";
      } else if (res.status === 200) {
        const parsed = workspaceView.safeParse(parseJson(res.text));
        if (!parsed.success) return;
        counters.platformStatus = parsed.data.status;
        if (parsed.data.status === "offline") lost = "offline";
      }
      if (lost && !state.stopping) {
        logger.warn(
          { event: "heartbeat.platform_lost", workspaceId, platformStatus: lost },
          "the platform has lost this workspace; re-register",
        );
        emit(state, state.outageListeners, { reason: "platform-lost", platformStatus: lost }, "onOutageRecovered");
      }
    } finally {
      state.checksInFlight -= 1;
    }
  };
}
