// Heartbeat deadlines, without timers: who must be heard from by when. The dispatcher feeds it beats
// and the time, and asks which nodes lapsed; it owns the one timer that asks. Pure, so the timing
// rules are tested with a fake clock.

/** Why a node is awaited: it has (had) a session, or it was in the store when this leader took over. */
export const Awaited = {
  /** Registered with this dispatcher: DOWN after 3 periods without a beat. */
  Session: "session",
  /** Not heard from since this leader took over (or created since): DOWN after 6 periods. */
  Unknown: "unknown",
} as const;
export type Awaited = (typeof Awaited)[keyof typeof Awaited];

/** Periods without a beat after which a node with a session is DOWN (SwarmKit: 3). */
export const SESSION_GRACE_PERIODS = 3;
/** Periods a node not yet heard from by this leader gets before it is DOWN (SwarmKit: 6). */
export const UNKNOWN_GRACE_PERIODS = 6;
/** Jitter of each period the dispatcher hands out: ±10 % (SwarmKit: 5 s ± 0.5 s). */
export const PERIOD_JITTER = 0.1;

/** A period with ±PERIOD_JITTER jitter, from `random` in [0, 1). Spreads the beats of many nodes. */
export function jitteredPeriod(periodMs: number, random: () => number): number {
  return Math.max(1, Math.round(periodMs * (1 + PERIOD_JITTER * (2 * random() - 1))));
}

/** A node whose deadline passed. */
export interface Lapse {
  nodeId: string;
  awaited: Awaited;
}

/** Deadlines by node id. */
export class HeartbeatTracker {
  private readonly deadlines = new Map<string, { at: number; awaited: Awaited }>();

  /** Expects `nodeId` by `at` (a time of the same clock that `lapsed` is given), replacing any earlier expectation. */
  expect(nodeId: string, at: number, awaited: Awaited): void {
    this.deadlines.set(nodeId, { at, awaited });
  }

  /** Stops awaiting a node (removed from the store). */
  forget(nodeId: string): void {
    this.deadlines.delete(nodeId);
  }

  /** What the node is awaited for, if it is. */
  awaited(nodeId: string): Awaited | undefined {
    return this.deadlines.get(nodeId)?.awaited;
  }

  /** Removes and returns every node whose deadline is at or before `now`, in id order. */
  lapsed(now: number): Lapse[] {
    const out: Lapse[] = [];
    for (const [nodeId, d] of this.deadlines) {
      if (d.at <= now) out.push({ nodeId, awaited: d.awaited });
    }
    for (const l of out) this.deadlines.delete(l.nodeId);
    return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  /** The earliest deadline, or undefined when no node is awaited. */
  next(): number | undefined {
    let min: number | undefined;
    for (const d of this.deadlines.values()) if (min === undefined || d.at < min) min = d.at;
    return min;
  }

  get size(): number {
    return this.deadlines.size;
  }

  clear(): void {
    this.deadlines.clear();
  }
}
