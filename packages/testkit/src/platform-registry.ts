import type { ServerResponse } from "node:http";
import { isIP } from "node:net";
import * as z from "zod";
import { sendJson } from "./http-util.js";
import type { PlatformAuth } from "./platform-auth.js";
import { type MutableWorkspace, type PlatformState, UUID_RE, type WorkspaceRecords } from "./platform-state.js";
import type { PlatformRequest } from "./platform-types.js";

const RegisterBody = z.object({
  id: z.string().regex(UUID_RE),
  url: z.string().min(1),
  agent_card: z.record(z.string(), z.unknown()),
});

const HeartbeatBody = z.object({
  workspace_id: z.string().min(1),
  error_rate: z.number().nullish(),
  sample_error: z.string().nullish(),
  active_tasks: z.number().int().nullish(),
  current_task: z.string().nullish(),
  uptime_seconds: z.number().nullish(),
  runtime_state: z.string().nullish(),
  runtime_metadata: z.record(z.string(), z.unknown()).nullish(),
});

/** True when `url` is acceptable to register: http/https, not a loopback / link-local / unspecified IP literal. */
export function isRegistrableUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return false;
  if (parsed.hostname === "") return false;
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const family = isIP(host);
  if (family === 4) return !isBadIpv4(host);
  if (family === 6) {
    if (host === "::1" || host === "::") return false;
    if (/^fe[89ab][0-9a-f]?:/.test(host)) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    if (mapped?.[1] !== undefined) return !isBadIpv4(mapped[1]);
    const mappedHex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mappedHex?.[1] !== undefined) {
      const hi = Number.parseInt(mappedHex[1], 16);
      return !isBadIpv4(`${hi >> 8}.${hi & 255}.0.0`);
    }
    return true;
  }
  return true;
}

function isBadIpv4(ip: string): boolean {
  const [a, b] = ip.split(".").map(Number);
  return a === 127 || a === 0 || (a === 169 && b === 254);
}

/** @internal */
export interface RegistryRoutes {
  /** POST /registry/register */
  handleRegister(res: ServerResponse, rec: PlatformRequest & { issuedToken?: string | null }): void;
  /** POST /registry/heartbeat */
  handleHeartbeat(res: ServerResponse, rec: PlatformRequest): void;
}

/** The registry routes: register (bootstrap token), heartbeat, and the status machine of docs/CONTRACT.md. @internal */
export function createRegistryRoutes(
  state: PlatformState,
  records: WorkspaceRecords,
  auth: PlatformAuth,
): RegistryRoutes {
  const { clock, workspaces } = state;
  const { emit, setStatus, armLiveness, newWorkspace } = records;
  const { issueToken, judge, unauthorized } = auth;

  const applyBeat = (ws: MutableWorkspace, beat: z.infer<typeof HeartbeatBody>) => {
    const prevTasks = ws.activeTasks;
    const prevLabel = ws.currentTask;
    ws.lastHeartbeatAt = clock.now();
    ws.errorRate = beat.error_rate ?? 0;
    ws.sampleError = beat.sample_error ?? "";
    ws.activeTasks = beat.active_tasks ?? 0;
    ws.currentTask = beat.current_task ?? "";
    ws.uptimeSeconds = beat.uptime_seconds ?? 0;
    ws.runtimeState = beat.runtime_state ?? "";
    ws.runtimeMetadata = beat.runtime_metadata ?? null;
    if (ws.liveUntil !== null) armLiveness(ws);
    emit("WORKSPACE_HEARTBEAT", ws.id, {
      error_rate: ws.errorRate,
      sample_error: ws.sampleError,
      active_tasks: ws.activeTasks,
      current_task: ws.currentTask,
      uptime_seconds: ws.uptimeSeconds,
      runtime_state: ws.runtimeState,
    });
    if (ws.activeTasks !== prevTasks || ws.currentTask !== prevLabel) {
      emit("TASK_UPDATED", ws.id, { active_tasks: ws.activeTasks, current_task: ws.currentTask });
    }
    // The status machine of docs/CONTRACT.md, applied in order within one beat.
    if (ws.status === "offline" || ws.status === "provisioning") setStatus(ws, "online", "heartbeat");
    if (ws.status === "online") {
      if (ws.runtimeState === "wedged") setStatus(ws, "degraded", "runtime wedged");
      else if (ws.errorRate >= 0.5) setStatus(ws, "degraded", "error rate");
    } else if (ws.status === "degraded" && ws.errorRate < 0.1 && ws.runtimeState === "") {
      setStatus(ws, "online", "recovered");
    }
  };

  const handleRegister = (res: ServerResponse, rec: PlatformRequest & { issuedToken?: string | null }) => {
    const parsed = RegisterBody.safeParse(rec.body);
    if (!parsed.success || !isRegistrableUrl(parsed.data.url)) {
      sendJson(res, 400, { error: "invalid request body" });
      return;
    }
    const { id, url, agent_card } = parsed.data;
    const verdict = judge(id, rec.token, true);
    rec.auth = verdict;
    if (verdict === "missing" || verdict === "invalid") {
      unauthorized(res, verdict);
      return;
    }
    let ws = workspaces.get(id);
    if (!ws) {
      ws = newWorkspace(id);
      workspaces.set(id, ws);
    }
    ws.url = url;
    ws.agentCard = agent_card;
    const card = agent_card;
    if (typeof card.name === "string" && card.name !== "" && ws.registeredAt === null) ws.name = card.name;
    ws.registeredAt = clock.now();
    armLiveness(ws);
    setStatus(ws, "online", "register");
    if (verdict === "bootstrap") {
      const token = issueToken(id);
      rec.issuedToken = token;
      sendJson(res, 200, { status: "registered", auth_token: token });
      return;
    }
    sendJson(res, 200, { status: "registered" });
  };

  const handleHeartbeat = (res: ServerResponse, rec: PlatformRequest) => {
    const parsed = HeartbeatBody.safeParse(rec.body);
    if (!parsed.success) {
      sendJson(res, 400, { error: "invalid request body" });
      return;
    }
    const id = parsed.data.workspace_id;
    const verdict = judge(id, rec.token, true);
    rec.auth = verdict;
    if (verdict === "missing" || verdict === "invalid") {
      unauthorized(res, verdict);
      return;
    }
    const ws = workspaces.get(id);
    if (ws) applyBeat(ws, parsed.data);
    sendJson(res, 200, { status: "ok" });
  };

  return { handleRegister, handleHeartbeat };
}
