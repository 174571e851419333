import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { realClock } from "./clock.js";
import { TestkitError } from "./errors.js";
import { sendJson } from "./http-util.js";
import { createA2aForwarder, sendMessage } from "./platform-a2a.js";
import { createPlatformAuth } from "./platform-auth.js";
import { createControl, createInjections } from "./platform-control.js";
import { createRegistryRoutes } from "./platform-registry.js";
import { createRequestHandler } from "./platform-routes.js";
import type { TestPlatform, TestPlatformOptions } from "./platform-types.js";
import { createWorkspaces } from "./platform-workspaces.js";

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
  if (options.unknownHeartbeat !== undefined && !["ok", "not-found"].includes(options.unknownHeartbeat)) {
    throw new TestkitError({
      code: "E_TESTKIT_BAD_OPTION",
      message: `unknownHeartbeat must be "ok" or "not-found", got ${JSON.stringify(options.unknownHeartbeat)}`,
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

  // Each part owns its records and takes only what it uses; this function wires them and owns the
  // server's lifecycle (down / up / closed).
  const workspaces = createWorkspaces({ clock, ttlMs, recordLimit });
  const auth = createPlatformAuth();
  const injections = createInjections();
  const forwarder = createA2aForwarder((id) => workspaces.get(id)?.url);
  const registry = createRegistryRoutes({
    clock,
    workspaces,
    auth,
    unknownHeartbeat: options.unknownHeartbeat ?? "ok",
  });
  const { handle, requests, dropHanging } = createRequestHandler({
    clock,
    recordLimit,
    orgId: options.orgId,
    rateLimitPerMinute: options.rateLimitPerMinute,
    a2aMode: options.a2aMode ?? "forward",
    workspaces,
    auth,
    registry,
    injections,
    forwarder,
  });
  const sockets = new Set<Socket>();
  let closed = false;
  let isDown = false;

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
      dropHanging();
      forwarder.dropAll();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    });

  const port = await listen(options.port ?? 0);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const { control, dispose } = createControl({
    clock,
    workspaces,
    auth,
    injections,
    requests,
    server: {
      async down() {
        if (isDown || closed) return;
        isDown = true;
        await stopListening();
      },
      async up() {
        if (!isDown || closed) return;
        await listen(port);
        isDown = false;
      },
    },
  });

  return {
    url,
    port,
    workspaces: workspaces.all,
    events: workspaces.events,
    control,
    sendMessage: (workspaceId, text, sendOptions) =>
      sendMessage({ baseUrl: url, orgId: options.orgId, liveToken: auth.liveToken }, workspaceId, text, sendOptions),
    async close() {
      if (closed) return;
      closed = true;
      workspaces.close();
      dispose();
      if (!isDown) await stopListening();
    },
  };
}
