import { describe, expect, it } from "vitest";
import { BusyError, CancelledError, createScheduler } from "./scheduler.js";

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("createScheduler", () => {
  it("runs one job at a time in FIFO order and refuses beyond the queue with BusyError", async () => {
    const s = createScheduler({ maxConcurrent: 1, queueSize: 2 });
    const order: string[] = [];
    const gates = [deferred<void>(), deferred<void>(), deferred<void>()];
    const jobs = ["a", "b", "c"].map((id, i) =>
      s.submit({
        id,
        run: async () => {
          order.push(`start ${id}`);
          await gates[i]?.promise;
          order.push(`end ${id}`);
          return id;
        },
      }),
    );
    await expect(s.submit({ id: "d", run: async () => "d" })).rejects.toBeInstanceOf(BusyError);
    expect(s.stats()).toEqual({ running: 1, queued: 2 });
    gates[0]?.resolve();
    gates[1]?.resolve();
    gates[2]?.resolve();
    expect(await Promise.all(jobs)).toEqual(["a", "b", "c"]);
    expect(order).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });

  it("cancels a queued job without running it, and aborts a running one", async () => {
    const s = createScheduler({ maxConcurrent: 1, queueSize: 4 });
    let sawAbort = false;
    const running = s.submit({
      id: "run",
      run: (signal) =>
        new Promise<string>((resolve) => {
          signal.addEventListener("abort", () => {
            sawAbort = true;
            resolve("aborted");
          });
        }),
    });
    let queuedRan = false;
    const queued = s.submit({
      id: "q",
      run: async () => {
        queuedRan = true;
        return "q";
      },
    });
    expect(s.cancel("q")).toBe(true);
    await expect(queued).rejects.toBeInstanceOf(CancelledError);
    expect(s.cancel("nope")).toBe(false);
    expect(s.cancel()).toBe(true); // the running one
    expect(await running).toBe("aborted");
    expect(sawAbort).toBe(true);
    expect(queuedRan).toBe(false);
  });

  it("close refuses new and queued jobs; idle resolves when the running one ends", async () => {
    const s = createScheduler({ maxConcurrent: 1, queueSize: 4 });
    const gate = deferred<void>();
    const first = s.submit({ id: "1", run: () => gate.promise.then(() => "done") });
    const second = s.submit({ id: "2", run: async () => "never" });
    s.close();
    await expect(second).rejects.toBeInstanceOf(BusyError);
    await expect(s.submit({ id: "3", run: async () => "x" })).rejects.toBeInstanceOf(BusyError);
    let idle = false;
    const idlePromise = s.idle().then(() => {
      idle = true;
    });
    await Promise.resolve();
    expect(idle).toBe(false);
    gate.resolve();
    expect(await first).toBe("done");
    await idlePromise;
    expect(idle).toBe(true);
  });

  it("jobs of one key run one after another in arrival order; other keys run beside them and may pass", async () => {
    const s = createScheduler({ maxConcurrent: 2, queueSize: 4 });
    const order: string[] = [];
    const gates = new Map(["a1", "a2", "a3", "b1"].map((id) => [id, deferred<void>()]));
    const job = (id: string, key: string) =>
      s.submit({
        id,
        key,
        run: async () => {
          order.push(`start ${id}`);
          await gates.get(id)?.promise;
          order.push(`end ${id}`);
          return id;
        },
      });
    const a1 = job("a1", "A");
    const a2 = job("a2", "A");
    const a3 = job("a3", "A");
    const b1 = job("b1", "B"); // a free slot: B does not wait behind A's queue
    expect(order).toEqual(["start a1", "start b1"]);
    expect(s.stats()).toEqual({ running: 2, queued: 2 });
    expect(s.accepts("A")).toBe(true); // room in the queue
    gates.get("b1")?.resolve();
    await b1;
    expect(order).toEqual(["start a1", "start b1", "end b1"]); // a2 still waits for a1
    gates.get("a1")?.resolve();
    await a1;
    await Promise.resolve();
    expect(order.at(-1)).toBe("start a2");
    gates.get("a2")?.resolve();
    gates.get("a3")?.resolve();
    expect(await Promise.all([a2, a3])).toEqual(["a2", "a3"]);
    expect(order).toEqual(["start a1", "start b1", "end b1", "end a1", "start a2", "end a2", "start a3", "end a3"]);
  });

  it("accepts() says whether a submit would be refused as busy", async () => {
    const s = createScheduler({ maxConcurrent: 1, queueSize: 1 });
    const gate = deferred<void>();
    const first = s.submit({ id: "1", key: "A", run: () => gate.promise });
    expect(s.accepts("B")).toBe(true); // it would wait in the queue
    const second = s.submit({ id: "2", key: "B", run: async () => undefined });
    expect(s.accepts("B")).toBe(false);
    await expect(s.submit({ id: "3", key: "C", run: async () => undefined })).rejects.toBeInstanceOf(BusyError);
    gate.resolve();
    await Promise.all([first, second]);
    expect(s.accepts()).toBe(true);
    s.close();
    expect(s.accepts()).toBe(false);
  });
});
