import type { PlatformEvent, RecordedBeat, TestPlatform } from "@molecule/testkit";

/** The platform's view of one workspace, read the way an operator's dashboard would. */
export function view(platform: TestPlatform, id: string) {
  const control = platform.control;
  return {
    status: () => control.status(id),
    workspace: () => platform.workspaces.get(id),
    beats: (): readonly RecordedBeat[] => control.beats(id),
    events: (type?: PlatformEvent["type"]): PlatformEvent[] =>
      platform.events.filter((e) => e.workspaceId === id && (type === undefined || e.type === type)),
    /** Status changes in order: `["online", "degraded", …]`. */
    statusTrail: (): string[] =>
      platform.events
        .filter((e) => e.workspaceId === id && e.type.startsWith("WORKSPACE_") && e.type !== "WORKSPACE_HEARTBEAT")
        .map((e) => String(e.data.to)),
    /** Waits until the platform shows `status`. */
    waitStatus: (status: string, timeoutMs = 15_000) => control.waitFor(() => control.status(id) === status, timeoutMs),
    /**
     * Waits for an accepted beat (HTTP 200) after the `after`-th one whose body matches `predicate`;
     * resolves with its index.
     */
    waitBeat: (predicate: (body: Readonly<Record<string, unknown>>) => boolean, after = 0, timeoutMs = 15_000) =>
      control.waitFor(() => {
        const beats = control.beats(id);
        for (let i = after; i < beats.length; i += 1) {
          const beat = beats[i];
          if (beat && beat.status === 200 && predicate(beat.body)) return i + 1;
        }
        return 0;
      }, timeoutMs),
  };
}
