import { createMasker } from "@molecule/internal";
import { HeartbeatError } from "../errors.js";
import { createHttpClient, type HttpClient } from "../http.js";
import { authorizationOf, tokenOf, validateBase } from "../options.js";
import { backoffDelayMs } from "../schedule.js";
import { type Clock, errorText, type HeartbeatLogger, realClock, silentLogger } from "../types.js";
import { type Answer, classify, MAX_REGISTER_ANSWER_BYTES, registerHint } from "./answer.js";
import { findStrandedTokens, removeStranded } from "./stranded.js";
import type { RegisterOptions, RegisterResult, RegisterTokens } from "./types.js";

const CODE = "E_REGISTER_BAD_OPTION";
const JITTER = 0.2;

/** Waits `ms` on the clock; ends early when `signal` aborts or (with `tokens`) the token file changes. */
function pause(ms: number, clock: Clock, signal: AbortSignal, tokens?: RegisterTokens): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    let off: (() => void) | undefined;
    const finish = () => {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      off?.();
      resolve();
    };
    const timer = clock.setTimeout(finish, Math.max(0, ms));
    signal.addEventListener("abort", finish, { once: true });
    if (typeof tokens?.onRotated === "function") off = tokens.onRotated(() => finish());
  });
}

function validate(options: RegisterOptions): { base: string; id: string } {
  if (typeof options !== "object" || options === null) {
    throw new HeartbeatError({
      code: CODE,
      message: "register needs { platformUrl, workspaceId, tokens, url, agentCard, signal }",
    });
  }
  const ids = validateBase(options.platformUrl, options.workspaceId, CODE);
  const { tokens } = options;
  if (!tokens || typeof tokens.headers !== "function" || typeof tokens.save !== "function") {
    throw new HeartbeatError({
      code: CODE,
      message: "tokens must be a platform token store with headers() and save() (createTokenStore from @molecule/auth)",
    });
  }
  let url: URL | undefined;
  try {
    url = typeof options.url === "string" ? new URL(options.url) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new HeartbeatError({
      code: CODE,
      message: `url must be the http(s) URL the platform reaches this workspace's A2A server at, got ${JSON.stringify(options.url)}`,
    });
  }
  if (typeof options.agentCard !== "object" || options.agentCard === null || Array.isArray(options.agentCard)) {
    throw new HeartbeatError({
      code: CODE,
      message: "agentCard must be the A2A agent card object (name, description, version, url, skills)",
    });
  }
  if (!(options.signal instanceof AbortSignal)) {
    throw new HeartbeatError({
      code: CODE,
      message: "signal must be an AbortSignal (new AbortController().signal): aborting it ends the retries",
    });
  }
  return ids;
}

/**
 * `POST /registry/register` until it succeeds: persists an issued `auth_token` through `tokens.save`
 * before resolving, and resolves on a valid 200 only. Retries with capped, jittered backoff on 408,
 * 425, 429 (honouring `Retry-After`), 5xx and transport errors until `signal` aborts
 * (`E_REGISTER_ABORTED`). A 401 re-reads the token file (a changed token is retried at once), then
 * tries the complete tokens a killed save stranded beside it, then waits `unauthorizedGraceMs` for
 * the provisioner to write the live token (`E_REGISTER_UNAUTHORIZED`). Any other 4xx, and a 200
 * whose body is not the platform's answer, reject with `E_REGISTER_REJECTED` and the fix.
 */
export async function register(options: RegisterOptions): Promise<RegisterResult> {
  const { base, id: workspaceId } = validate(options);
  const clock = options.clock ?? realClock;
  const http = createHttpClient({ clock, dispatcher: options.dispatcher });
  try {
    return await new Registration(options, base, workspaceId, clock, http).run();
  } finally {
    await http.close();
  }
}

class Registration {
  private attempt = 0;
  private failures = 0;
  private unauthorizedSince: number | undefined;
  private strandedTried = false;
  private readonly known = new Set<string>();
  private readonly logger: HeartbeatLogger;
  private readonly tokens: RegisterTokens;
  private readonly signal: AbortSignal;

  constructor(
    private readonly options: RegisterOptions,
    private readonly base: string,
    private readonly workspaceId: string,
    private readonly clock: Clock,
    private readonly http: HttpClient,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.tokens = options.tokens;
    this.signal = options.signal;
  }

  /** The house masker (`@molecule/internal`): the tokens seen so far, then the generic secret shapes. */
  private readonly masker = createMasker({ values: this.known });

  private error(
    code: "E_REGISTER_REJECTED" | "E_REGISTER_UNAUTHORIZED" | "E_REGISTER_ABORTED",
    message: string,
    status?: number,
  ) {
    return new HeartbeatError({ code, message, status, attempts: this.attempt });
  }

  private aborted() {
    return this.error("E_REGISTER_ABORTED", `registration aborted after ${this.attempt} attempt(s)`);
  }

  private async headers(): Promise<Record<string, string>> {
    try {
      const headers = await this.tokens.headers();
      const token = tokenOf(authorizationOf(headers));
      if (token) this.known.add(token);
      return headers;
    } catch (error) {
      this.logger.warn(
        { event: "register.token_read_failed", err: errorText(error) },
        "reading the platform token failed; registering without it",
      );
      return {};
    }
  }

  private async post(headers: Record<string, string>): Promise<Answer> {
    this.attempt += 1;
    const res = await this.http.send({
      method: "POST",
      url: `${this.base}/registry/register`,
      headers,
      body: { id: this.workspaceId, url: this.options.url, agent_card: this.options.agentCard },
      timeoutMs: this.options.requestTimeoutMs ?? 10_000,
      signal: this.signal,
      maxBodyBytes: MAX_REGISTER_ANSWER_BYTES,
    });
    const answer = await classify(res, this.clock.now(), this.masker);
    if (answer.kind !== "aborted") {
      const status = "status" in answer ? answer.status : undefined;
      try {
        this.options.onAttempt?.({
          attempt: this.attempt,
          ok: answer.kind === "ok",
          ...(status !== undefined ? { status } : {}),
        });
      } catch {
        // a metrics callback must not break registration
      }
    }
    return answer;
  }

  private async succeed(token: string | undefined, recovered?: string): Promise<RegisterResult> {
    const save = token ?? recovered;
    if (save !== undefined) await this.tokens.save(save);
    this.logger.info(
      { event: "register.ok", attempt: this.attempt, tokenIssued: token !== undefined },
      "registered with the platform",
    );
    return { tokenIssued: token !== undefined, attempts: this.attempt };
  }

  async run(): Promise<RegisterResult> {
    for (;;) {
      if (this.signal.aborted) throw this.aborted();
      const headers = await this.headers();
      let answer = await this.post(headers);
      if (answer.kind === "unauthorized") {
        const handled = await this.unauthorized(headers, answer);
        if ("attempts" in handled) return handled;
        answer = handled;
      }
      // The 401 window counts consecutive 401s: any other answer (an outage, say) ends it.
      if (answer.kind !== "unauthorized") this.unauthorizedSince = undefined;
      switch (answer.kind) {
        case "ok":
          return this.succeed(answer.token);
        case "aborted":
          throw this.aborted();
        case "garbage":
        case "too-large":
        case "rejected":
          throw this.error(
            "E_REGISTER_REJECTED",
            `register refused (${answer.detail}): ${registerHint(answer.status, this.base, this.tokens.file, answer.kind)}`,
            answer.status,
          );
        case "unauthorized": {
          const since = this.unauthorizedSince ?? this.clock.now();
          this.unauthorizedSince = since;
          const graceMs = this.options.unauthorizedGraceMs ?? 120_000;
          if (this.clock.now() - since >= graceMs) {
            throw this.error(
              "E_REGISTER_UNAUTHORIZED",
              `register answered 401 for ${Math.round((this.clock.now() - since) / 1000)} s (${answer.detail}): ${registerHint(401, this.base, this.tokens.file)}`,
              401,
            );
          }
          await this.wait(answer.status, answer.detail, undefined, true);
          break;
        }
        case "retry":
          await this.wait(answer.status, answer.detail, answer.retryAfterMs, false);
          break;
      }
    }
  }

  private async wait(
    status: number | undefined,
    detail: string,
    retryAfterMs: number | undefined,
    onRotation: boolean,
  ) {
    this.failures += 1;
    const maxDelayMs = this.options.maxDelayMs ?? 60_000;
    const waitMs = Math.round(
      backoffDelayMs(this.failures, maxDelayMs, JITTER, this.options.random ?? Math.random, retryAfterMs),
    );
    this.logger.warn(
      {
        event: "register.failed",
        attempt: this.attempt,
        status,
        error: detail,
        retryInMs: waitMs,
        hint: registerHint(status, this.base, this.tokens.file),
      },
      "register failed; retrying",
    );
    await pause(waitMs, this.clock, this.signal, onRotation ? this.tokens : undefined);
  }

  /** A 401: a changed token file is retried at once; then the stranded temp tokens; else the caller waits. */
  private async unauthorized(headers: Record<string, string>, answer: Answer): Promise<Answer | RegisterResult> {
    const used = authorizationOf(headers);
    let changed = false;
    try {
      changed = (await this.tokens.refreshFromDisk(tokenOf(used))).changed;
    } catch (error) {
      this.logger.warn(
        { event: "register.token_refresh_failed", err: errorText(error) },
        "re-reading the token file failed",
      );
    }
    if (changed) {
      const fresh = await this.headers();
      if (authorizationOf(fresh) !== undefined && authorizationOf(fresh) !== used) {
        this.logger.info(
          { event: "register.retry_rotated" },
          "401 with a token that has since changed on disk; retrying at once",
        );
        const again = await this.post(fresh);
        if (again.kind !== "unauthorized") return again;
        return this.unauthorized(fresh, again);
      }
    }
    if (this.strandedTried || this.tokens.file === undefined) return answer;
    this.strandedTried = true;
    return this.tryStranded(headers, this.tokens.file, answer);
  }

  private async tryStranded(
    headers: Record<string, string>,
    file: string,
    answer: Answer,
  ): Promise<Answer | RegisterResult> {
    const { files, tokens } = await findStrandedTokens(file);
    if (files.length === 0) return answer;
    const used = tokenOf(authorizationOf(headers));
    const rest: Record<string, string> = {};
    for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() !== "authorization") rest[key] = value;
    for (const candidate of tokens) {
      if (candidate.token === used) continue;
      this.known.add(candidate.token);
      const tried = await this.post({ ...rest, Authorization: `Bearer ${candidate.token}` });
      if (tried.kind === "unauthorized") continue;
      if (tried.kind !== "ok") {
        // Not conclusive (the platform failed meanwhile): keep the files for the next 401.
        this.strandedTried = false;
        return tried;
      }
      const result = await this.succeed(tried.token, candidate.token);
      await this.cleanUp(files, "recovered");
      return result;
    }
    await this.cleanUp(files, "dead");
    return answer;
  }

  private async cleanUp(files: readonly string[], outcome: "recovered" | "dead") {
    const failures = await removeStranded(files);
    this.logger.info(
      { event: `register.stranded_${outcome}`, files: files.length, notRemoved: failures.length },
      outcome === "recovered"
        ? "a token a killed save left in a temp file was the live one: saved it, removed the temp files"
        : "no token left in a temp file by a killed save was the live one; removed the temp files",
    );
  }
}
