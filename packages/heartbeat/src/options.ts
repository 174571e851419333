import { HeartbeatError } from "./errors.js";

type Code = "E_HEARTBEAT_BAD_OPTION" | "E_DELEGATION_BAD_OPTION" | "E_REGISTER_BAD_OPTION";

/** @internal */
export function validateBase(platformUrl: unknown, workspaceId: unknown, code: Code): { base: string; id: string } {
  let url: URL | undefined;
  try {
    url = typeof platformUrl === "string" ? new URL(platformUrl) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new HeartbeatError({
      code,
      message: "platformUrl must be an http(s) URL such as http://platform:8080; set PLATFORM_URL",
    });
  }
  if (typeof workspaceId !== "string" || workspaceId.trim() === "") {
    throw new HeartbeatError({ code, message: "workspaceId is empty; set WORKSPACE_ID to this workspace's id" });
  }
  return { base: url.href.replace(/\/+$/, ""), id: workspaceId.trim() };
}

/** @internal */
export function positive(value: unknown, fallback: number, name: string, code: Code): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new HeartbeatError({ code, message: `${name} must be a positive number of ms, got ${String(value)}` });
  }
  return value;
}

/** @internal */
export function authorizationOf(headers: Record<string, string>): string | undefined {
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === "authorization") return value;
  return undefined;
}

/** @internal */
export function tokenOf(authorization: string | undefined): string | undefined {
  return authorization?.startsWith("Bearer ") ? authorization.slice(7) : undefined;
}
