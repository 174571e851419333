import type { ServerResponse } from "node:http";

/** Writes a whole response: JSON (or `body` as is when it is a string), never cached. @internal */
export function sendJson(res: ServerResponse, status: number, body: unknown, contentType = "application/json"): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}
