export { WedgeError } from "./errors.js";
export type { MarkOptions, WedgeListener, WedgeLogger, WedgeScope, WedgeState } from "./wedge.js";
export {
  clearWedge,
  createWedgeScope,
  isWedged,
  markWedged,
  onWedgeChange,
  setWedgeLogger,
  wedgeReason,
  wedgeState,
} from "./wedge.js";
