import type { Masker } from "@molecule/internal";
import { maskedExcerpt } from "../excerpt.js";
import type { HttpResult } from "../http.js";
import { lazySchema } from "../lazy.js";
import { parseRetryAfterMs } from "../schedule.js";
import { parseJson } from "../types.js";

const HEADER_SAFE = /^[\x21-\x7e]+$/;

/**
 * The largest register answer read (bytes). docs/CONTRACT.md's answer is `{"status":"registered"}`
 * with at most a 43-character token: anything near this is not a register answer, and it is refused
 * before it is parsed (a bounded read), whatever it holds.
 */
export const MAX_REGISTER_ANSWER_BYTES = 64 * 1024;

/** docs/CONTRACT.md: 200 `{"status":"registered"}`, with `auth_token` when the workspace had no live token. */
const Registered = lazySchema((z) =>
  z.looseObject({
    status: z.string(),
    auth_token: z.string().regex(HEADER_SAFE).optional(),
  }),
);
const ErrorAnswer = lazySchema((z) => z.looseObject({ error: z.string() }));

/** A register answer, as the retry loop acts on it. Every `detail` is masked. @internal */
export type Answer =
  | { kind: "ok"; status: number; token: string | undefined }
  | { kind: "garbage"; status: number; detail: string }
  | { kind: "too-large"; status: number; detail: string }
  | { kind: "unauthorized"; status: 401; detail: string }
  | { kind: "retry"; status: number | undefined; detail: string; retryAfterMs: number | undefined }
  | { kind: "rejected"; status: number; detail: string }
  | { kind: "aborted" };

/** `HTTP <status>` and the platform's `error` text, masked before it is cut. */
async function detailOf(res: Extract<HttpResult, { kind: "response" }>, masker: Masker): Promise<string> {
  const body = (await ErrorAnswer()).safeParse(parseJson(res.text));
  return body.success ? `HTTP ${res.status}: ${maskedExcerpt(body.data.error, 200, masker)}` : `HTTP ${res.status}`;
}

function sizeOf(tooLarge: { limit: number; declared: number | undefined }): string {
  return tooLarge.declared === undefined
    ? `more than ${tooLarge.limit} bytes`
    : `${tooLarge.declared} bytes (content-length)`;
}

/** What a register request's result means. @internal */
export async function classify(res: HttpResult, nowMs: number, masker: Masker): Promise<Answer> {
  if (res.kind === "error") {
    if (res.failure === "aborted") return { kind: "aborted" };
    return {
      kind: "retry",
      status: undefined,
      detail: `${res.failure}: ${maskedExcerpt(res.message, 300, masker)}`,
      retryAfterMs: undefined,
    };
  }
  const { status } = res;
  if (res.tooLarge) {
    const detail = `HTTP ${status} with a body of ${sizeOf(res.tooLarge)}, over the ${res.tooLarge.limit}-byte limit; not read`;
    return status >= 200 && status < 300 ? { kind: "too-large", status, detail } : { kind: "rejected", status, detail };
  }
  if (status >= 200 && status < 300) {
    const parsed = (await Registered()).safeParse(parseJson(res.text));
    if (parsed.success) return { kind: "ok", status, token: parsed.data.auth_token };
    const excerpt = maskedExcerpt(res.text, 80, masker);
    return { kind: "garbage", status, detail: `HTTP ${status} ${excerpt ? `"${excerpt}"` : "(empty body)"}` };
  }
  if (status === 401) return { kind: "unauthorized", status, detail: await detailOf(res, masker) };
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfterMs(res.headers["retry-after"], nowMs);
    return { kind: "retry", status, detail: await detailOf(res, masker), retryAfterMs };
  }
  return { kind: "rejected", status, detail: await detailOf(res, masker) };
}

/** A 2xx register answer that is not `{"status":"registered"}`: what to do (the platform may have issued a token in it). */
function unexpectedAnswerHint(platformUrl: string, tokenFile: string, tooLarge: boolean): string {
  const what = tooLarge
    ? `the platform at PLATFORM_URL (${platformUrl}) answered register with a body too large to be a register answer (docs/CONTRACT.md: {"status":"registered"}, with at most a 43-character auth_token)`
    : `the platform at PLATFORM_URL (${platformUrl}) answered register with a body that is not {"status":"registered"} (docs/CONTRACT.md)`;
  return `${what}: check the platform's version and logs, and that PLATFORM_URL is its base URL. Any token that answer carried was not saved: revoke the workspace's token on the platform (the next register then issues a new one) or write the live one to ${tokenFile}`;
}

/** What to do about a register answer, for the log line and the error. */
export function registerHint(
  status: number | undefined,
  platformUrl: string,
  tokenFile?: string,
  kind?: Answer["kind"],
): string {
  const file = tokenFile ?? "<configs>/.auth_token";
  if (status === undefined) return `the platform is unreachable: check PLATFORM_URL (${platformUrl}) and the network`;
  if (status >= 200 && status < 300) return unexpectedAnswerHint(platformUrl, file, kind === "too-large");
  if (status === 400)
    return "the platform refused the body: check MOLECULE_ADVERTISE_URL (http/https, not a loopback or link-local IP literal; localhost is fine) and the agent card";
  if (status === 401)
    return `the platform holds a live token for this workspace and ${file} has another one or none: write the issued token to ${file} (re-provision the workspace) or revoke the workspace's token on the platform`;
  if (status === 403 || status === 404)
    return `the platform does not accept this workspace here: check PLATFORM_URL (${platformUrl}), WORKSPACE_ID and, on a multi-tenant platform, MOLECULE_ORG_ID`;
  if (status === 413)
    return "the agent card is too large for the platform: shorten description and skills in config.yaml";
  if (status >= 400 && status < 500)
    return `the platform refused the registration: check PLATFORM_URL (${platformUrl}), WORKSPACE_ID and the config`;
  return "the platform failed; retrying with backoff";
}
