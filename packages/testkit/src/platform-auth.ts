import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { ServerResponse } from "node:http";
import { sendJson } from "./http-util.js";
import type { AuthVerdict } from "./platform-types.js";

function hashToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** @internal */
export interface PlatformAuth {
  /** Revokes the workspace's tokens and issues a new one. */
  issueToken(id: string): string;
  /** Revokes every token of the workspace (back to bootstrap mode). */
  revoke(id: string): void;
  /** The live token, or undefined. */
  liveToken(id: string): string | undefined;
  /** The token after `Bearer `, or null. */
  bearer(headers: Record<string, string>): string | null;
  /** Bootstrap-aware: without a live token, nothing is required where `bootstrapAllowed`. */
  judge(id: string, token: string | null, bootstrapAllowed: boolean): AuthVerdict;
  /** Answers 401 with the contract's wording. */
  unauthorized(res: ServerResponse, verdict: AuthVerdict): void;
}

/** Workspace tokens: one live token per workspace, compared by hash in constant time; written only here. @internal */
export function createPlatformAuth(): PlatformAuth {
  const tokens = new Map<string, { token: string; hash: Buffer }>();

  const issueToken = (id: string): string => {
    const token = randomBytes(32).toString("base64url");
    tokens.set(id, { token, hash: hashToken(token) });
    return token;
  };

  const bearer = (headers: Record<string, string>): string | null => {
    const value = headers.authorization;
    if (value === undefined || !value.startsWith("Bearer ")) return null;
    const token = value.slice("Bearer ".length).trim();
    return token === "" ? null : token;
  };

  /** bootstrap-aware: without a live token, nothing is required */
  const judge = (id: string, token: string | null, bootstrapAllowed: boolean): AuthVerdict => {
    const live = tokens.get(id);
    if (!live) return bootstrapAllowed ? "bootstrap" : token === null ? "missing" : "invalid";
    if (token === null) return "missing";
    return timingSafeEqual(hashToken(token), live.hash) ? "ok" : "invalid";
  };

  const unauthorized = (res: ServerResponse, verdict: AuthVerdict) =>
    sendJson(res, 401, {
      error: verdict === "missing" ? "missing workspace auth token" : "invalid workspace auth token",
    });

  return {
    issueToken,
    revoke: (id) => {
      tokens.delete(id);
    },
    liveToken: (id) => tokens.get(id)?.token,
    bearer,
    judge,
    unauthorized,
  };
}
