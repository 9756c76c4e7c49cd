// Time for the agent's task machinery: the wall clock that stamps statuses and one-shot timers
// (retry delays, the sim executor's transitions). Injected so tests run on a manual clock.

/** A pending one-shot timer. */
export interface Timer {
  /** Stops the timer; no effect once it fired. */
  cancel(): void;
}

/** Wall-clock time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` once, `ms` milliseconds from now. */
  setTimer(fn: () => void, ms: number): Timer;
}

/** The process's clock: Date.now and setTimeout (unref'd, so a pending timer keeps no process alive). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
