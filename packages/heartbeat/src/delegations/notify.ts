import type * as z from "zod";
import { lazySchema } from "../lazy.js";
import { type Clock, errorText, type HeartbeatLogger, type PlatformTokens, parseJson } from "../types.js";
import { type Authed, clean, type Send, type Track } from "./requests.js";
import type { DelegationPollerStats, DelegationResult } from "./types.js";

/** The notifier's own counters. @internal */
export type NotifyCounts = Pick<DelegationPollerStats, "notifyFailures" | "parentLookups">;

/** What the notifier uses. @internal */
export interface NotifierInput {
  base: string;
  /** `<base>/workspaces/<id>` */
  wsPath: string;
  parentTtlMs: number;
  clock: Clock;
  logger: HeartbeatLogger;
  tokens: PlatformTokens;
  send: Send;
  authed: Authed;
  track: Track;
  stopping: () => boolean;
}

/** @internal */
export interface Notifier {
  notify(results: DelegationResult[]): void;
  /** Its counters, read-only. */
  readonly counts: Readonly<NotifyCounts>;
}

const workspaceView = lazySchema((z) => z.object({ name: z.string().nullish(), parent_id: z.string().nullish() }));

/**
 * `POST /workspaces/:id/notify` for each delivered result (the user's channel), naming the parent
 * workspace when there is one (looked up without Authorization, cached for `parentCacheTtlMs`). @internal
 */
export function createNotifier(input: NotifierInput): Notifier {
  const { base, clock, logger, tokens, wsPath, parentTtlMs, send, authed, track, stopping } = input;
  const counters: NotifyCounts = { notifyFailures: 0, parentLookups: 0 };
  let parentCache: { expiresAt: number; name: string | undefined } | undefined;

  const lookup = async (
    url: string,
  ): Promise<{ definitive: boolean; view?: z.infer<Awaited<ReturnType<typeof workspaceView>>> }> => {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(await tokens.headers().catch(() => ({})))) {
      if (key.toLowerCase() !== "authorization") headers[key] = value;
    }
    const res = await send({ method: "GET", url, headers });
    if (res.kind !== "response") return { definitive: false };
    if (res.status === 404) return { definitive: true };
    if (res.status !== 200) return { definitive: false };
    const parsed = (await workspaceView()).safeParse(parseJson(res.text));
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
    track(
      (async () => {
        const parent = await parentName();
        for (const r of results) {
          if (stopping()) return;
          const summary = clean(r.summary);
          const message = `Delegation ${r.status}${summary ? `: ${summary}` : ""} (id ${r.delegation_id}${parent ? `, parent ${clean(parent, 80)}` : ""})`;
          const res = await authed({ method: "POST", url: `${wsPath}/notify`, body: { message } });
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

  return { notify: notifyAll, counts: counters };
}
