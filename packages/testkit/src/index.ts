export type { Clock, FakeClock } from "./clock.js";
export { createFakeClock } from "./clock.js";
