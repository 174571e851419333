import assert from "node:assert/strict";
import { clearWedge, isWedged, markWedged, onWedgeChange, wedgeState } from "@molecule/wedge";

/** What an adapter does after every agent turn. */
function afterTurn(turn: { ok: boolean; stderr: string }) {
  if (/control request timeout: initialize/i.test(turn.stderr)) {
    markWedged("claude-code init timeout — restart workspace", { code: "E_AGENT_INIT_TIMEOUT" });
  } else if (turn.ok) clearWedge(); // the first observed success clears it
}

// The heartbeat subscribes like this and beats at once: the platform shows "degraded" within a second.
const seen: string[] = [];
const unsubscribe = onWedgeChange((state) => seen.push(state.wedged ? `wedged: ${state.code}` : "healthy"));

afterTurn({ ok: false, stderr: "Error: control request timeout: initialize" });
assert.equal(isWedged(), true);
assert.equal(wedgeState().reason, "claude-code init timeout — restart workspace");
afterTurn({ ok: false, stderr: "Error: control request timeout: initialize" }); // first write wins: no event

afterTurn({ ok: true, stderr: "" });
assert.equal(isWedged(), false);
assert.deepEqual(seen, ["wedged: E_AGENT_INIT_TIMEOUT", "healthy"]);
unsubscribe();
console.log("wedge: marked on the init timeout, seen by the listener, cleared by the first success");
