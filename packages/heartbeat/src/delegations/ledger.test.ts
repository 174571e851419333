import { randomUUID } from "node:crypto";
import { open, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { IS_ROOT, type LogSink, mountSmallVolume, sinkLogger, tempDir } from "@molecule/test-support";
import type { DelegationRow } from "@molecule/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createDelegationPoller, type DelegationPoller, readDelegationResults } from "../index.js";
import { createRig, type Rig } from "../test-support.js";
import { createDelegationLedger, type LedgerFileHandle, type LedgerFs } from "./ledger.js";
import type { DelegationResult } from "./types.js";

let dir: string;
let log: LogSink;
beforeEach(async () => {
  dir = await tempDir("ledger-test-");
  log = sinkLogger();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function result(id: string, summary = "review the PR"): DelegationResult {
  return { delegation_id: id, status: "completed", summary, source_id: "ws-1", received_at: "2026-01-01T00:00:00Z" };
}

const enospc = () => Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });

/**
 * A results-file filesystem whose disk is "full" while `full.on`: a write puts the first
 * `full.tornBytes` bytes on disk and then answers ENOSPC (what a really full disk does); an fsync
 * may fail too (EIO). A write that fits in `tornBytes` succeeds. Everything else is the real file.
 */
function fullDisk(full: { on: boolean; tornBytes: number; failSync?: boolean }): LedgerFs {
  return {
    async open(path, flags, mode) {
      const real = await open(path, flags, mode);
      const handle: LedgerFileHandle = {
        stat: () => real.stat(),
        read: (buffer, offset, length, position) => real.read(buffer, offset, length, position),
        async writeFile(data, options) {
          if (!full.on || data.length <= full.tornBytes) return real.writeFile(data, options);
          await real.writeFile(data.slice(0, full.tornBytes), options);
          throw enospc();
        },
        truncate: (length) => real.truncate(length),
        async sync() {
          if (full.on && full.failSync) throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
          return real.sync();
        },
        close: () => real.close(),
      };
      return handle;
    },
  };
}

describe("the results file under a full disk (injected ENOSPC; no root needed)", () => {
  it("a failed append leaves no torn line behind, and the retried batch reads back whole", async () => {
    const resultsFile = join(dir, "results.jsonl");
    const full = { on: false, tornBytes: 30 };
    const ledger = createDelegationLedger({
      seenPath: join(dir, "seen.json"),
      resultsFile,
      logger: log.logger,
      fs: fullDisk(full),
    });
    await ledger.append([result("d-0")]);
    full.on = true;
    await expect(ledger.append([result("d-1"), result("d-2")])).rejects.toMatchObject({ code: "ENOSPC" });
    // Cut back to the last whole line: only d-0's line is there.
    expect(await readFile(resultsFile, "utf8")).toBe(`${JSON.stringify(result("d-0"))}\n`);
    full.on = false;
    await ledger.append([result("d-1"), result("d-2")]);
    const read = await readDelegationResults(resultsFile, { logger: log.logger });
    expect(read.map((r) => r.delegation_id)).toEqual(["d-0", "d-1", "d-2"]);
    expect(log.events()).not.toContain("delegation.corrupt_line");
  });

  it("a torn tail left by an earlier write (kill -9, or a truncate that failed too) is cut before the next append", async () => {
    const resultsFile = join(dir, "results.jsonl");
    // What the old code left after ENOSPC: a whole line, then half of the next one, no newline.
    const torn = JSON.stringify(result("d-1")).slice(0, 40);
    await writeFile(resultsFile, `${JSON.stringify(result("d-0"))}\n${torn}`);
    const ledger = createDelegationLedger({ seenPath: join(dir, "seen.json"), resultsFile, logger: log.logger });
    await ledger.append([result("d-1")]);
    const read = await readDelegationResults(resultsFile, { logger: log.logger });
    // Before the fix the new line was glued onto the torn one: d-1 became one corrupt line, lost.
    expect(read.map((r) => r.delegation_id)).toEqual(["d-0", "d-1"]);
    expect(log.events()).toContain("delegation.torn_tail_dropped");
    expect(log.events()).not.toContain("delegation.corrupt_line");
  });

  it("a torn tail longer than one read chunk, and a file that is all torn tail, are cut too", async () => {
    const resultsFile = join(dir, "results.jsonl");
    const ledger = createDelegationLedger({ seenPath: join(dir, "seen.json"), resultsFile, logger: log.logger });
    await writeFile(resultsFile, `${JSON.stringify(result("d-0"))}\n${"x".repeat(200_000)}`);
    await ledger.append([result("d-1")]);
    expect((await readDelegationResults(resultsFile)).map((r) => r.delegation_id)).toEqual(["d-0", "d-1"]);
    await writeFile(resultsFile, "y".repeat(70_000));
    await ledger.append([result("d-2")]);
    expect(await readFile(resultsFile, "utf8")).toBe(`${JSON.stringify(result("d-2"))}\n`);
  });

  it("an fsync that fails cuts the batch back out and throws: nothing is reported durable that is not", async () => {
    const resultsFile = join(dir, "results.jsonl");
    await writeFile(resultsFile, `${JSON.stringify(result("d-0"))}\n`);
    const ledger = createDelegationLedger({
      seenPath: join(dir, "seen.json"),
      resultsFile,
      logger: log.logger,
      fs: fullDisk({ on: true, tornBytes: Number.POSITIVE_INFINITY, failSync: true }),
    });
    await expect(ledger.append([result("d-1")])).rejects.toMatchObject({ code: "EIO" });
    expect(await readFile(resultsFile, "utf8")).toBe(`${JSON.stringify(result("d-0"))}\n`);
  });
});

describe.runIf(IS_ROOT)("the poller on a real full disk (a 64 KiB tmpfs; root)", () => {
  let rig: Rig;
  let poller: DelegationPoller | undefined;
  afterEach(async () => {
    await poller?.stop();
    poller = undefined;
    await rig?.close();
  });

  it("ENOSPC mid-batch, then space freed: every result is delivered exactly once, none torn or lost", async () => {
    rig = await createRig();
    const volume = await mountSmallVolume(join(dir, "state"));
    try {
      const rows: DelegationRow[] = Array.from({ length: 6 }, (_, i) => ({
        id: randomUUID(),
        delegation_id: `d-${i}`,
        source_id: rig.workspaceId,
        target_id: randomUUID(),
        summary: `result ${i} ${"z".repeat(1_500)}`,
        status: "completed",
        created_at: `2026-01-01T00:00:0${i}Z`,
      }));
      rig.platform.control.setDelegations(rig.workspaceId, rows);
      poller = createDelegationPoller({
        platformUrl: rig.platform.url,
        workspaceId: rig.workspaceId,
        tokens: rig.tokens,
        stateDir: volume.dir,
        logger: log.logger,
        clock: rig.clock,
      });
      const resultsFile = join(volume.dir, "delegation_results.jsonl");
      await volume.fill(5_000); // room for about two and a half results
      const failed = await poller.pollNow();
      expect(failed).toMatchObject({ ok: false, delivered: 0 });
      expect(log.events()).toContain("delegation.append_failed");
      // Whatever is on disk is whole lines only.
      const onDisk = await readFile(resultsFile, "utf8").catch(() => "");
      expect(onDisk === "" || onDisk.endsWith("\n")).toBe(true);

      await volume.free();
      expect(await poller.pollNow()).toEqual({ ok: true, delivered: 6 });
      const read = await readDelegationResults(resultsFile, { logger: log.logger });
      expect(read.map((r) => r.delegation_id).sort()).toEqual(rows.map((r) => r.delegation_id).sort());
      expect(log.events()).not.toContain("delegation.corrupt_line");
      // Marked delivered: the next poll delivers nothing again.
      expect(await poller.pollNow()).toEqual({ ok: true, delivered: 0 });
    } finally {
      await poller?.stop();
      poller = undefined;
      volume.unmount();
    }
  });
});
