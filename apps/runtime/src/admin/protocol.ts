import * as z from "zod";

/**
 * The daemon's admin protocol: HTTP/1.1 with JSON bodies on the Unix socket `<state dir>/admin.sock`
 * (mode 0600, never on the A2A port). The daemon serves it; `molecule status` and `molecule task` speak it.
 *
 * | route          | request body           | 200 answer            | other answers           |
 * | -------------- | ---------------------- | --------------------- | ----------------------- |
 * | `GET /status`  | none                   | `AdminStatus`         |                         |
 * | `POST /task`   | `AdminTaskRequest`     | `AdminTaskResponse`   | 400 `AdminErrorResponse` |
 * | `POST /beat`   | none                   | `AdminBeatResponse`   |                         |
 * | anything else  |                        |                       | 404 `AdminErrorResponse` |
 */

/** The socket's file name inside the daemon's state dir. */
export const ADMIN_SOCKET_FILE = "admin.sock";

/**
 * `GET /status`: the daemon's view. Unknown keys are dropped; `lastOutcome` is any string so that a
 * status from a newer daemon (with an outcome this version does not know) still parses and displays.
 */
export const adminStatusSchema = z.object({
  workspaceId: z.string(),
  /** The URL the workspace advertises to the platform. */
  url: z.string(),
  registered: z.boolean(),
  ready: z.boolean(),
  draining: z.boolean(),
  /** The platform's status for this workspace as last seen by the heartbeat; absent before the first answer. */
  platformStatus: z.string().optional(),
  wedge: z.object({
    wedged: z.boolean(),
    reason: z.string(),
    code: z.string().optional(),
    /** ISO 8601. */
    since: z.string().optional(),
  }),
  /** The task label the heartbeat reports ("" when none). */
  currentTask: z.string(),
  activeTasks: z.number(),
  queuedTasks: z.number(),
  /** The last turn's outcome (a `TurnOutcome` of the daemon's version); absent before the first turn. */
  lastOutcome: z.string().optional(),
  /**
   * The last turn's token usage and cost as its agent reported them (the agent's own estimate):
   * `input_tokens`, `output_tokens`, and where reported `cache_read_input_tokens`,
   * `cache_creation_input_tokens`, `cost_usd`, `model`. Absent when the last turn reported none.
   */
  lastUsage: z
    .object({
      input_tokens: z.number(),
      output_tokens: z.number(),
      cache_read_input_tokens: z.number().optional(),
      cache_creation_input_tokens: z.number().optional(),
      cost_usd: z.number().optional(),
      model: z.string().optional(),
    })
    .optional(),
  beats: z.object({ ok: z.number(), failed: z.number() }),
  uptimeSeconds: z.number(),
});
export type AdminStatus = z.infer<typeof adminStatusSchema>;

/** `POST /task`: sets the task label (a string, cut to 200 characters) or clears it (`null` or absent). */
export const adminTaskRequestSchema = z.object({ label: z.string().nullable().optional() });
export type AdminTaskRequest = z.infer<typeof adminTaskRequestSchema>;

/** The answer to `POST /task`: the label now reported ("" when cleared). */
export const adminTaskResponseSchema = z.object({ ok: z.literal(true), currentTask: z.string() });
export type AdminTaskResponse = z.infer<typeof adminTaskResponseSchema>;

/** The answer to `POST /beat` (a heartbeat is sent at once, out of schedule). */
export const adminBeatResponseSchema = z.object({ ok: z.literal(true) });
export type AdminBeatResponse = z.infer<typeof adminBeatResponseSchema>;

/** Any refusal (400, 404): a sentence saying what was wrong. */
export const adminErrorResponseSchema = z.object({ error: z.string() });
export type AdminErrorResponse = z.infer<typeof adminErrorResponseSchema>;
