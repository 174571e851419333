// The main job until the daemon exists: shows the process-wide wedge flag doing its work.
import { clearWedge, createWedgeScope, onWedgeChange, wedgeState } from "../packages/wedge/dist/index.js";

onWedgeChange((state) =>
  console.log(state.wedged ? `platform would show: degraded — ${state.reason}` : "platform would show: online"),
);
const executor = createWedgeScope("claude-code");
console.log("agent turn fails with: Control request timeout: initialize");
executor.mark("claude-code init timeout — restart workspace", { code: "E_AGENT_INIT_TIMEOUT" });
console.log("state:", JSON.stringify(wedgeState()));
console.log("first successful turn observed");
executor.clear();
clearWedge();
console.log("state:", JSON.stringify(wedgeState()));
