import { request } from "node:http";
import { loadConfig, resolveSettings } from "@molecule/config";

export interface HealthcheckOptions {
  /** Where settings are read from (default `process.env`), the way the daemon reads them. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The config directory (overrides `WORKSPACE_CONFIG_PATH`), as `molecule-runtime --config`. */
  configDir?: string;
  /** The port to probe; default: `a2a.port` from config.yaml. */
  port?: number;
  /** Where the daemon listens (default 127.0.0.1). */
  host?: string;
  /** The whole check's budget in ms (default 3 000). */
  timeoutMs?: number;
}

export interface HealthcheckResult {
  ok: boolean;
  /** the port probed, when known */
  port?: number;
  /** the HTTP status of `/livez`, when one arrived */
  status?: number;
  /** one line for the person (or the container engine's log) reading it */
  message: string;
}

/**
 * `molecule-runtime healthcheck`: finds the A2A port the way the daemon does (settings, then
 * `a2a.port` of config.yaml) and GETs `/livez` on it. `ok` only for a 200 within the timeout.
 * @internal
 */
export async function healthcheck(options: HealthcheckOptions = {}): Promise<HealthcheckResult> {
  const env = options.env ?? process.env;
  const host = options.host ?? "127.0.0.1";
  const timeoutMs = options.timeoutMs ?? 3_000;
  let port = options.port;
  if (port === undefined) {
    const { settings } = resolveSettings(
      options.configDir ? { ...env, WORKSPACE_CONFIG_PATH: options.configDir } : env,
    );
    try {
      port = (await loadConfig(settings.configPath, { env })).config.a2a.port;
    } catch (error) {
      const why = error instanceof Error ? error.message.split("\n", 1)[0] : String(error);
      return { ok: false, message: `unhealthy: cannot read the A2A port from ${settings.configPath}: ${why}` };
    }
  }
  if (port === 0) {
    return {
      ok: false,
      port,
      message: "unhealthy: a2a.port is 0 (any free port), so the port is unknown; set a2a.port or pass --port",
    };
  }
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/livez`;
  return new Promise<HealthcheckResult>((resolve) => {
    const req = request(url, { method: "GET", timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        resolve(
          status === 200
            ? { ok: true, port, status, message: `healthy: ${url} answered 200` }
            : { ok: false, port, status, message: `unhealthy: ${url} answered ${status}` },
        );
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (error: NodeJS.ErrnoException) => {
      resolve({ ok: false, port, message: `unhealthy: ${url}: ${error.code ?? error.message}` });
    });
    req.on("close", () => clearTimeout(timer));
    req.end();
  });
}
