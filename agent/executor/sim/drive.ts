// Driving asynchronous code under a ManualClock without sleeping: yield to the event loop (so
// promises and I/O complete), and when nothing more happens, fire the next due timer. Bounded by
// a number of turns, never by time.
import type { ManualClock } from "./manual-clock.js";

/** One turn of the event loop (every queued microtask and completed I/O callback runs). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Options of {@link until}. */
export interface UntilOptions {
  /** When given, its next due timer fires whenever a few turns passed without `cond` holding. */
  clock?: ManualClock;
  /** Give up after this many turns. Default 100 000. */
  maxTurns?: number;
  /** Turns to wait before firing the next timer. Default 3. */
  turnsPerTimer?: number;
  /** Names the condition in the error. */
  what?: string;
}

/** Resolves once `cond()` holds; throws after `maxTurns` turns. */
export async function until(cond: () => boolean, opts: UntilOptions = {}): Promise<void> {
  const max = opts.maxTurns ?? 100_000;
  const per = opts.turnsPerTimer ?? 3;
  let idle = 0;
  for (let i = 0; i < max; i++) {
    if (cond()) return;
    await turn();
    if (opts.clock && ++idle >= per && !cond()) {
      idle = 0;
      opts.clock.runNext();
    }
  }
  throw new Error(`not reached after ${max} turns${opts.what ? `: ${opts.what}` : ""}`);
}
