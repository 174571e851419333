import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { realClock } from "./clock.js";
import { TestkitError } from "./errors.js";
import { sendJson } from "./http-util.js";
import { sendMessage } from "./platform-a2a.js";
import { createPlatformAuth } from "./platform-auth.js";
import { createControl } from "./platform-control.js";
import { createRegistryRoutes } from "./platform-registry.js";
import { createRequestHandler } from "./platform-routes.js";
import { createPlatformState, createWorkspaceRecords } from "./platform-state.js";
import type { TestPlatform, TestPlatformOptions } from "./platform-types.js";

/** Starts a loopback platform server that implements docs/CONTRACT.md. */
export async function startTestPlatform(options: TestPlatformOptions = {}): Promise<TestPlatform> {
  const clock = options.clock ?? realClock;
  const ttlMs = options.ttlMs ?? 180_000;
  const host = options.host ?? "127.0.0.1";
  const recordLimit = options.recordLimit ?? 100_000;
  const a2aModes: readonly string[] = ["forward", "reply", "queued", "busy"];
  if (options.a2aMode !== undefined && !a2aModes.includes(options.a2aMode)) {
    throw new TestkitError({
      code: "E_TESTKIT_BAD_OPTION",
      message: `a2aMode must be one of ${a2aModes.join(", ")}, got ${JSON.stringify(options.a2aMode)}`,
    });
  }
  if (!(ttlMs > 0))
    throw new TestkitError({ code: "E_TESTKIT_BAD_OPTION", message: `ttlMs must be > 0, got ${ttlMs}` });
  if (options.rateLimitPerMinute !== undefined && !(options.rateLimitPerMinute > 0)) {
    throw new TestkitError({
      code: "E_TESTKIT_BAD_OPTION",
      message: `rateLimitPerMinute must be > 0 (omit it for no limit), got ${options.rateLimitPerMinute}`,
    });
  }

  const state = createPlatformState(options, clock, ttlMs, recordLimit);
  const records = createWorkspaceRecords(state);
  const auth = createPlatformAuth(state);
  const handle = createRequestHandler(state, auth, createRegistryRoutes(state, records, auth));
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: "internal error", detail: String(error) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        const address = server.address();
        resolve(typeof address === "object" && address !== null ? address.port : port);
      });
    });

  const stopListening = () =>
    new Promise<void>((resolve) => {
      for (const res of state.hanging) res.destroy();
      state.hanging.clear();
      for (const forward of state.forwards) forward.destroy();
      state.forwards.clear();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    });

  const port = await listen(options.port ?? 0);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const control = createControl(state, records, auth, { stopListening, listenAgain: () => listen(port) });

  return {
    url,
    port,
    workspaces: state.workspaces,
    events: state.events,
    control,
    sendMessage: (workspaceId, text, sendOptions) => sendMessage(state, url, workspaceId, text, sendOptions),
    async close() {
      if (state.closed) return;
      state.closed = true;
      for (const handle of state.livenessTimers.values()) clock.clearTimeout(handle);
      state.livenessTimers.clear();
      for (const handle of state.otherTimers) clock.clearTimeout(handle);
      state.otherTimers.clear();
      if (!state.isDown) await stopListening();
    },
  };
}
