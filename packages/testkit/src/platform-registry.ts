import type { ServerResponse } from "node:http";
import { isIP } from "node:net";
import * as z from "zod";
import type { Clock } from "./clock.js";
import { sendJson } from "./http-util.js";
import type { PlatformAuth } from "./platform-auth.js";
import type { AuthVerdict } from "./platform-types.js";
import type { BeatTarget, Workspaces } from "./platform-workspaces.js";

/** Workspace ids are UUIDs. @internal */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const RegisterBody = z.object({
  id: z.string().regex(UUID_RE),
  url: z.string().min(1),
  agent_card: z.record(z.string(), z.unknown()),
});

// ---- The heartbeat body: the one place a body field is added -------------------------------------
// Its schema (`HeartbeatBody`), what the platform keeps of it (`BeatRecord` and the `BEAT_FIELDS` row:
// the workspace field, the value when absent, whether the WORKSPACE_HEARTBEAT event carries it) all
// live here; the typecheck fails until a schema field has its row. Tests see it once it is also on
// `PlatformWorkspace` (platform-types.ts, public: `pnpm api:update` + changeset); the exact-record test
// in platform.test.ts ("records every heartbeat body field") lists every field.
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
type HeartbeatBody = z.infer<typeof HeartbeatBody>;

/** What the platform keeps of the last beat (part of every workspace record; written only in this file). @internal */
export interface BeatRecord {
  lastHeartbeatAt: number | null;
  errorRate: number;
  sampleError: string;
  activeTasks: number;
  currentTask: string;
  uptimeSeconds: number;
  runtimeState: string;
  runtimeMetadata: Record<string, unknown> | null;
}

type BeatField = Exclude<keyof HeartbeatBody, "workspace_id">;
type BeatRow<F extends BeatField> = {
  readonly [K in keyof BeatRecord]: readonly [
    K,
    NonNullable<HeartbeatBody[F]> extends BeatRecord[K] ? BeatRecord[K] : never,
    boolean,
  ];
}[keyof BeatRecord];

/** Each body field → [the workspace field that keeps it, its value when absent, in the WORKSPACE_HEARTBEAT event]. */
const BEAT_FIELDS: { readonly [F in BeatField]-?: BeatRow<F> } = {
  error_rate: ["errorRate", 0, true],
  sample_error: ["sampleError", "", true],
  active_tasks: ["activeTasks", 0, true],
  current_task: ["currentTask", "", true],
  uptime_seconds: ["uptimeSeconds", 0, true],
  runtime_state: ["runtimeState", "", true],
  runtime_metadata: ["runtimeMetadata", null, false],
};
const beatRows = Object.entries(BEAT_FIELDS) as Array<[BeatField, readonly [keyof BeatRecord, unknown, boolean]]>;

/** The beat fields of a workspace that never sent a beat. @internal */
export function emptyBeat(): BeatRecord {
  const record: Record<string, unknown> = { lastHeartbeatAt: null };
  for (const [, [key, empty]] of beatRows) record[key] = empty;
  return record as unknown as BeatRecord;
}

/** Stores one beat: every field is replaced (an absent field resets to its default). */
function recordBeat(ws: BeatRecord, beat: HeartbeatBody, now: number): void {
  const target = ws as unknown as Record<string, unknown>;
  target.lastHeartbeatAt = now;
  for (const [field, [key, empty]] of beatRows) target[key] = beat[field] ?? empty;
}

/** The WORKSPACE_HEARTBEAT event's data: the beat's scalar fields as stored. */
function beatEventData(ws: Readonly<BeatRecord>): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [field, [key, , inEvent]] of beatRows) if (inEvent) data[field] = ws[key];
  return data;
}
// ---------------------------------------------------------------------------------------------------

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

/** How a registry route judged the request (the request log records it). @internal */
export interface RegistryOutcome {
  /** the auth verdict, absent when the body was rejected before auth */
  auth?: AuthVerdict;
  /** the auth_token a register call issued */
  issuedToken?: string;
}

/** @internal */
export interface RegistryRoutes {
  /** POST /registry/register */
  handleRegister(res: ServerResponse, body: unknown, token: string | null): RegistryOutcome;
  /** POST /registry/heartbeat */
  handleHeartbeat(res: ServerResponse, body: unknown, token: string | null): RegistryOutcome;
}

/** @internal */
export interface RegistryInput {
  readonly clock: Clock;
  readonly workspaces: Pick<Workspaces, "register" | "beatTarget" | "beatArrived" | "emit" | "setStatus">;
  readonly auth: Pick<PlatformAuth, "issueToken" | "judge" | "unauthorized">;
  /** What a heartbeat for an unknown workspace answers (`TestPlatformOptions.unknownHeartbeat`). */
  readonly unknownHeartbeat: "ok" | "not-found";
}

/** The registry routes: register (bootstrap token), heartbeat, and the status machine of docs/CONTRACT.md. @internal */
export function createRegistryRoutes({ clock, workspaces, auth, unknownHeartbeat }: RegistryInput): RegistryRoutes {
  const { emit, setStatus } = workspaces;
  const { issueToken, judge, unauthorized } = auth;

  const applyBeat = (ws: BeatTarget, beat: HeartbeatBody) => {
    const prevTasks = ws.activeTasks;
    const prevLabel = ws.currentTask;
    recordBeat(ws, beat, clock.now());
    workspaces.beatArrived(ws.id);
    emit("WORKSPACE_HEARTBEAT", ws.id, beatEventData(ws));
    if (ws.activeTasks !== prevTasks || ws.currentTask !== prevLabel) {
      emit("TASK_UPDATED", ws.id, { active_tasks: ws.activeTasks, current_task: ws.currentTask });
    }
    // The status machine of docs/CONTRACT.md, applied in order within one beat.
    if (ws.status === "offline" || ws.status === "provisioning") setStatus(ws.id, "online", "heartbeat");
    if (ws.status === "online") {
      if (ws.runtimeState === "wedged") setStatus(ws.id, "degraded", "runtime wedged");
      else if (ws.errorRate >= 0.5) setStatus(ws.id, "degraded", "error rate");
    } else if (ws.status === "degraded" && ws.errorRate < 0.1 && ws.runtimeState === "") {
      setStatus(ws.id, "online", "recovered");
    }
  };

  const handleRegister = (res: ServerResponse, body: unknown, token: string | null): RegistryOutcome => {
    const parsed = RegisterBody.safeParse(body);
    if (!parsed.success || !isRegistrableUrl(parsed.data.url)) {
      sendJson(res, 400, { error: "invalid request body" });
      return {};
    }
    const { id, url, agent_card } = parsed.data;
    const verdict = judge(id, token, true);
    if (verdict === "missing" || verdict === "invalid") {
      unauthorized(res, verdict);
      return { auth: verdict };
    }
    workspaces.register(id, url, agent_card);
    if (verdict === "bootstrap") {
      const issued = issueToken(id);
      sendJson(res, 200, { status: "registered", auth_token: issued });
      return { auth: verdict, issuedToken: issued };
    }
    sendJson(res, 200, { status: "registered" });
    return { auth: verdict };
  };

  const handleHeartbeat = (res: ServerResponse, body: unknown, token: string | null): RegistryOutcome => {
    const parsed = HeartbeatBody.safeParse(body);
    if (!parsed.success) {
      sendJson(res, 400, { error: "invalid request body" });
      return {};
    }
    const id = parsed.data.workspace_id;
    const verdict = judge(id, token, true);
    if (verdict === "missing" || verdict === "invalid") {
      unauthorized(res, verdict);
      return { auth: verdict };
    }
    const ws = workspaces.beatTarget(id);
    if (ws) applyBeat(ws, parsed.data);
    else if (unknownHeartbeat === "not-found") {
      sendJson(res, 404, { error: "workspace not found" });
      return { auth: verdict };
    }
    sendJson(res, 200, { status: "ok" });
    return { auth: verdict };
  };

  return { handleRegister, handleHeartbeat };
}
