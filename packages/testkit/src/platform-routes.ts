import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as z from "zod";
import type { Clock } from "./clock.js";
import { parseJson, plainHeaders, readBody, realSleep, sendJson } from "./http-util.js";
import type { A2aForwarder } from "./platform-a2a.js";
import type { PlatformAuth } from "./platform-auth.js";
import type { InjectedBehaviour } from "./platform-control.js";
import { type RegistryRoutes, UUID_RE } from "./platform-registry.js";
import type { A2aMode, PlatformRequest, PlatformRoute } from "./platform-types.js";
import type { Workspaces } from "./platform-workspaces.js";

const NotifyBody = z.object({ message: z.string().min(1) }).loose();

function routeOf(method: string, path: string): { route: PlatformRoute; id?: string } | undefined {
  if (method === "POST" && path === "/registry/register") return { route: "register" };
  if (method === "POST" && path === "/registry/heartbeat") return { route: "heartbeat" };
  const m = /^\/workspaces\/([^/]+)(\/delegations|\/a2a|\/notify)?\/?$/.exec(path);
  if (!m?.[1]) return undefined;
  const id = decodeURIComponent(m[1]);
  const tail = m[2];
  if (tail === "/delegations" && method === "GET") return { route: "delegations", id };
  if (tail === "/a2a" && method === "POST") return { route: "a2a", id };
  if (tail === "/notify" && method === "POST") return { route: "notify", id };
  if (tail === undefined && method === "GET") return { route: "workspace", id };
  return undefined;
}

/** @internal */
export interface RequestHandlerInput {
  readonly clock: Clock;
  /** how many requests are kept (oldest dropped first) */
  readonly recordLimit: number;
  /** when set, every route but register/heartbeat answers 404 unless `X-Molecule-Org-Id` equals it */
  readonly orgId: string | undefined;
  readonly rateLimitPerMinute: number | undefined;
  /** the A2A mode of a workspace without its own */
  readonly a2aMode: A2aMode;
  readonly workspaces: Pick<Workspaces, "has" | "get">;
  readonly auth: Pick<PlatformAuth, "bearer" | "judge" | "unauthorized">;
  readonly registry: RegistryRoutes;
  readonly injections: InjectedBehaviour;
  readonly forwarder: Pick<A2aForwarder, "forward">;
}

/** @internal */
export interface RequestHandler {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Every request the platform saw, oldest first (a live, read-only view: only this file writes it). */
  readonly requests: readonly PlatformRequest[];
  /** Destroys the responses held open by an injected hang (the platform goes down or closes). */
  dropHanging(): void;
}

/**
 * The request handler: records every request, then applies the injected latency, rate limit and
 * failures, the org check, and routes to the registry or the workspace routes. @internal
 */
export function createRequestHandler(input: RequestHandlerInput): RequestHandler {
  const { clock, recordLimit, orgId, workspaces, injections, forwarder } = input;
  const { bearer, judge, unauthorized } = input.auth;
  const { handleRegister, handleHeartbeat } = input.registry;
  const requests: PlatformRequest[] = [];
  const rate = new Map<string, number[]>();
  /** responses held open by an injected hang */
  const hanging = new Set<ServerResponse>();

  const rateLimited = (ip: string): number | undefined => {
    const limit = input.rateLimitPerMinute;
    if (limit === undefined) return undefined;
    const now = clock.now();
    const window = (rate.get(ip) ?? []).filter((t) => t > now - 60_000);
    if (window.length >= limit) {
      rate.set(ip, window);
      const oldest = window[0] ?? now;
      return Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000));
    }
    window.push(now);
    rate.set(ip, window);
    return undefined;
  };

  /** auth for the workspace routes: unknown workspace → 404 first; known → a live token is required */
  const guard = (res: ServerResponse, rec: PlatformRequest, id: string, as: string = id): boolean => {
    if (!workspaces.has(id)) {
      sendJson(res, 404, { error: "workspace not found" });
      return false;
    }
    const verdict = judge(as, rec.token, false);
    rec.auth = verdict;
    if (verdict !== "ok") {
      unauthorized(res, verdict);
      return false;
    }
    return true;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const matched = routeOf(method, path);
    const headers = plainHeaders(req);
    const raw = await readBody(req);
    const body = raw === undefined || raw.length === 0 ? null : (parseJson(raw.toString("utf8")) ?? null);
    const route = matched?.route ?? "unknown";
    const rec: PlatformRequest & { workspaceId?: string; issuedToken?: string | null } = {
      route,
      method,
      path,
      at: clock.now(),
      headers,
      body,
      token: bearer(headers),
      auth: "not-checked",
      status: 0,
      injected: null,
    };
    requests.push(rec);
    const bodyId =
      route === "heartbeat" && typeof body === "object" && body !== null && "workspace_id" in body
        ? body.workspace_id
        : route === "register" && typeof body === "object" && body !== null && "id" in body
          ? body.id
          : matched?.id;
    if (typeof bodyId === "string") rec.workspaceId = bodyId;
    if (route === "register") rec.issuedToken = null;
    if (requests.length > recordLimit) requests.splice(0, requests.length - recordLimit);

    res.on("finish", () => {
      rec.status = res.statusCode;
    });

    if (raw === undefined) {
      sendJson(res, 413, { error: "request body too large" });
      return;
    }
    if (!matched) {
      sendJson(res, 404, { error: "not found" });
      return;
    }
    const delay = injections.delayFor(matched.route);
    if (delay > 0) await realSleep(delay);
    if (res.destroyed) return;

    const retryAfter = rateLimited(req.socket.remoteAddress ?? "?");
    if (retryAfter !== undefined) {
      sendJson(res, 429, { error: "rate limit exceeded" }, { "retry-after": String(retryAfter) });
      return;
    }

    const failure = injections.takeFailure(matched.route);
    if (failure) {
      if ("status" in failure) {
        rec.injected = "status";
        const extra: Record<string, string> =
          failure.retryAfterSeconds === undefined ? {} : { "retry-after": String(failure.retryAfterSeconds) };
        sendJson(res, failure.status, failure.body ?? { error: `injected ${failure.status}` }, extra);
      } else if ("hang" in failure) {
        rec.injected = "hang";
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
      } else if ("reset" in failure) {
        rec.injected = "reset";
        req.socket.destroy();
      } else {
        rec.injected = "garbage";
        res.writeHead(200, { "content-type": "application/json" });
        res.end("<html><body>502 Bad Gateway</body></html>{not json");
      }
      return;
    }

    if (orgId !== undefined && matched.route !== "register" && matched.route !== "heartbeat") {
      if (headers["x-molecule-org-id"] !== orgId) {
        sendJson(res, 404, { error: "not found" });
        return;
      }
    }

    const id = matched.id ?? "";
    switch (matched.route) {
      case "register":
      case "heartbeat": {
        const outcome = (matched.route === "register" ? handleRegister : handleHeartbeat)(res, body, rec.token);
        if (outcome.auth !== undefined) rec.auth = outcome.auth;
        if (outcome.issuedToken !== undefined) rec.issuedToken = outcome.issuedToken;
        return;
      }
      case "workspace": {
        if (!UUID_RE.test(id)) {
          sendJson(res, 400, { error: "invalid workspace id" });
          return;
        }
        const ws = workspaces.get(id);
        if (!ws) {
          sendJson(res, 404, { error: "workspace not found" });
          return;
        }
        sendJson(res, 200, {
          id: ws.id,
          name: ws.name,
          status: ws.status,
          parent_id: ws.parentId,
          url: ws.url,
          runtime_state: ws.runtimeState,
          active_tasks: ws.activeTasks,
          current_task: ws.currentTask,
          last_heartbeat_at: ws.lastHeartbeatAt === null ? null : new Date(ws.lastHeartbeatAt).toISOString(),
        });
        return;
      }
      case "delegations": {
        if (!guard(res, rec, id)) return;
        const rows = [...injections.delegationsOf(id)]
          .map((row, index) => ({ row: { type: "delegation", ...row }, index }))
          .sort((a, b) => Date.parse(b.row.created_at) - Date.parse(a.row.created_at) || a.index - b.index)
          .slice(0, 50)
          .map(({ row }) => row);
        sendJson(res, 200, rows);
        return;
      }
      case "notify": {
        if (!guard(res, rec, id)) return;
        if (!NotifyBody.safeParse(body).success) {
          sendJson(res, 400, { error: "message is required" });
          return;
        }
        sendJson(res, 200, { status: "sent" });
        return;
      }
      case "a2a": {
        const caller = headers["x-workspace-id"] ?? id;
        if (!guard(res, rec, id, caller)) return;
        const rpcId =
          typeof body === "object" &&
          body !== null &&
          "id" in body &&
          (typeof body.id === "string" || typeof body.id === "number")
            ? body.id
            : null;
        if (rpcId === null || typeof body !== "object" || body === null || !("method" in body)) {
          sendJson(res, 400, { error: "invalid request body" });
          return;
        }
        const mode = injections.a2aModeOf(id) ?? input.a2aMode;
        if (mode === "forward") {
          forwarder.forward(id, raw, res);
          return;
        }
        if (mode === "busy") {
          sendJson(res, 503, { busy: true, retry_after: 30 }, { "retry-after": "30" });
          return;
        }
        if (mode === "queued") {
          sendJson(res, 202, { queued: true, workspace_id: id });
          return;
        }
        sendJson(res, 200, {
          jsonrpc: "2.0",
          id: rpcId,
          result: {
            kind: "message",
            role: "agent",
            messageId: randomBytes(8).toString("hex"),
            parts: [{ kind: "text", text: "ok" }],
          },
        });
        return;
      }
    }
  };

  const dropHanging = () => {
    for (const res of hanging) res.destroy();
    hanging.clear();
  };

  return { handle, requests, dropHanging };
}
