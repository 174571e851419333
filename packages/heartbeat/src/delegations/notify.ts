import * as z from "zod";
import { errorText, parseJson } from "../types.js";
import { clean, type PollerState } from "./state.js";
import type { DelegationResult } from "./types.js";

const workspaceView = z.object({ name: z.string().nullish(), parent_id: z.string().nullish() });

/**
 * `POST /workspaces/:id/notify` for each delivered result (the user's channel), naming the parent
 * workspace when there is one (looked up without Authorization, cached for `parentCacheTtlMs`). @internal
 */
export function createNotifier(state: PollerState): (results: DelegationResult[]) => void {
  const { base, clock, logger, counters, tokens, wsPath, parentTtlMs } = state;
  let parentCache: { expiresAt: number; name: string | undefined } | undefined;

  const lookup = async (url: string): Promise<{ definitive: boolean; view?: z.infer<typeof workspaceView> }> => {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(await tokens.headers().catch(() => ({})))) {
      if (key.toLowerCase() !== "authorization") headers[key] = value;
    }
    const res = await state.send({ method: "GET", url, headers });
    if (res.kind !== "response") return { definitive: false };
    if (res.status === 404) return { definitive: true };
    if (res.status !== 200) return { definitive: false };
    const parsed = workspaceView.safeParse(parseJson(res.text));
    return parsed.success ? { definitive: true, view: parsed.data } : { definitive: false };
  };

  const parentName = async (): Promise<string | undefined> => {
    if (parentCache && parentCache.expiresAt > clock.now()) return parentCache.name;
    counters.parentLookups += 1;
    const own = await lookup(wsPath);
    if (!own.definitive) return undefined; // a 5xx is asked again next time, not cached as "no parent"
    const parentId = own.view?.parent_id;
    let name: string | undefined;
    if (parentId) {
      const parent = await lookup(`${base}/workspaces/${encodeURIComponent(parentId)}`);
      if (!parent.definitive) return undefined;
      name = parent.view?.name ?? undefined;
    }
    parentCache = { expiresAt: clock.now() + parentTtlMs, name };
    return name;
  };

  const notifyAll = (results: DelegationResult[]) => {
    state.track(
      (async () => {
        const parent = await parentName();
        for (const r of results) {
          if (state.stopping) return;
          const summary = clean(r.summary);
          const message = `Delegation ${r.status}${summary ? `: ${summary}` : ""} (id ${r.delegation_id}${parent ? `, parent ${clean(parent, 80)}` : ""})`;
          const res = await state.authed({ method: "POST", url: `${wsPath}/notify`, body: { message } });
          if (res.kind === "response" && res.status >= 200 && res.status < 300) continue;
          if (res.kind === "error" && res.failure === "aborted") return;
          counters.notifyFailures += 1;
          logger.warn(
            {
              event: "delegation.notify_failed",
              status: res.kind === "response" ? res.status : undefined,
              delegationId: r.delegation_id,
            },
            "notify for a delegation result failed",
          );
        }
      })().catch((error) => {
        logger.error({ event: "delegation.bug", err: errorText(error) }, "unexpected error notifying");
      }),
    );
  };

  return notifyAll;
}
