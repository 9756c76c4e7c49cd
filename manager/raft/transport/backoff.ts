// Reconnect delays: capped exponential backoff with jitter, reset after a successful connection.

/** Backoff parameters; `random` returns a number in [0, 1). */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  random: () => number;
}

/** Defaults for reconnecting a peer stream. */
export const RECONNECT_BACKOFF: BackoffOptions = { initialMs: 50, maxMs: 1_000, random: Math.random };

/**
 * Doubling delays from initialMs up to maxMs; each returned delay is drawn uniformly from
 * [base/2, base) so peers that failed together do not retry together.
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions = RECONNECT_BACKOFF) {}

  /** The delay before the next attempt. */
  next(): number {
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base / 2 + (base / 2) * this.opts.random());
  }

  /** Back to the initial delay (after a success). */
  reset(): void {
    this.attempt = 0;
  }
}
