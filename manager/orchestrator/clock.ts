// Time for the orchestrators' runners: the clock and timers are injected, so tests advance a fake
// clock instead of sleeping. An Alarm is one timer that rings at an absolute time.

export interface OrchestratorClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: OrchestratorClock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** One timer at a time, set to an absolute time. */
export class Alarm {
  private handle: unknown = null;
  private atMs: number | null = null;

  constructor(
    private readonly clock: OrchestratorClock,
    private readonly ring: () => void,
  ) {}

  /** Rings at `atMs` instead of the time set before; null cancels. */
  set(atMs: number | null): void {
    if (atMs === this.atMs) return;
    this.cancel();
    if (atMs === null) return;
    this.atMs = atMs;
    this.handle = this.clock.setTimer(
      () => {
        this.handle = null;
        this.atMs = null;
        this.ring();
      },
      Math.max(0, atMs - this.clock.now()),
    );
  }

  /** Rings at `atMs` unless it is already set to ring earlier. */
  setNoLaterThan(atMs: number): void {
    if (this.atMs === null || atMs < this.atMs) this.set(atMs);
  }

  cancel(): void {
    if (this.handle !== null) this.clock.clearTimer(this.handle);
    this.handle = null;
    this.atMs = null;
  }
}
