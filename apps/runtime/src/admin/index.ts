export type {
  AdminBeatResponse,
  AdminErrorResponse,
  AdminStatus,
  AdminTaskRequest,
  AdminTaskResponse,
} from "./protocol.js";
export {
  ADMIN_SOCKET_FILE,
  adminBeatResponseSchema,
  adminErrorResponseSchema,
  adminStatusSchema,
  adminTaskRequestSchema,
  adminTaskResponseSchema,
} from "./protocol.js";
