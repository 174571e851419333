/**
 * The pino-compatible logger shape every package accepts. Each published package declares its own
 * identical type (`AuthLogger`, `HeartbeatLogger`…); `public-types.test-d.ts` keeps them identical.
 */
export interface Logger {
  debug?(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
