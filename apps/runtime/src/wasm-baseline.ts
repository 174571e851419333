import { setFlagsFromString } from "node:v8";

/**
 * Keeps WebAssembly on V8's baseline compiler (Liftoff) in this process. The daemon's only
 * WebAssembly is undici's HTTP parser (llhttp, also behind Node's fetch) for its few outbound
 * requests (register, heartbeat, poller); V8's optimizing tier recompiles it in the background right
 * after the first one, a transient ~30 MB of RSS at boot (measured: a boot peak of 116 MB over 81 MB
 * idle; with this flag the peak is the idle figure), for a parser that reads a few responses a
 * minute. A host process that wants optimized WebAssembly back runs
 * `v8.setFlagsFromString("--no-liftoff-only")` after `startRuntime`. @internal
 */
export function keepWasmOnBaseline(): void {
  setFlagsFromString("--liftoff-only");
}
