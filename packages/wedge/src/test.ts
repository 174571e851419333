/**
 * `@molecule/wedge/test`: helpers for tests only, kept off the main entry.
 * The state lives on `globalThis`, so this entry resets the same flag every other copy sees.
 */
export { resetWedgeForTests } from "./wedge.js";
