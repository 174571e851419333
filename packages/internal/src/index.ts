export type {
  AtomicData,
  AtomicFileHandle,
  AtomicWriteAsyncOptions,
  AtomicWriteFs,
  AtomicWriteOptions,
  AtomicWriteStep,
} from "./atomic-write.js";
export {
  AtomicWriteError,
  atomicTempPath,
  copyFileAtomic,
  nodeAtomicFs,
  writeFileAtomic,
  writeFileAtomicSync,
} from "./atomic-write.js";
export type { CapabilityFlags, CapabilityName } from "./capabilities.js";
export { CAPABILITY_NAMES, capabilityFlags } from "./capabilities.js";
export type { Clock } from "./clock.js";
export { realClock } from "./clock.js";
export { errnoCode, errorText } from "./errno.js";
export { findExecutable } from "./find-executable.js";
export type { Logger } from "./logger.js";
export type { Masker, MaskerOptions } from "./mask.js";
export { createMasker, REDACTED } from "./mask.js";
export { oneLine } from "./one-line.js";
export { isMountedSecretFile } from "./secret-mount.js";
export type { LooseTokenMode } from "./token-mode.js";
export { looseTokenMode } from "./token-mode.js";
