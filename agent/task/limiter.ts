// A counting semaphore: at most `limit` operations at once, the rest wait in arrival order. The
// worker shares one between its task controllers so that only a few containers are being brought up
// (image pulled, container created and started) at the same time: an engine starting many containers
// at once spends more CPU on each, and docker limits concurrent pulls too.

/** Runs at most `limit` operations at once; waiters are served first come, first served. */
export class Limiter {
  #active = 0;
  readonly #queue: Array<{ grant: () => void }> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  /** Operations running now. */
  get active(): number {
    return this.#active;
  }

  /** Operations waiting for a slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Runs `fn` once a slot is free. An abort while waiting rejects with the signal's reason and
   * gives up the place in the queue; once `fn` runs, aborting is `fn`'s business.
   */
  async run<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Takes a slot once one is free and answers the function that gives it back (calling it again
   * does nothing). An abort while waiting rejects with the signal's reason.
   */
  async acquire(signal: AbortSignal | undefined): Promise<() => void> {
    await this.#take(signal);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#release();
    };
  }

  #take(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.#active < this.limit) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          this.#active++;
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  #release(): void {
    this.#active--;
    this.#queue.shift()?.grant();
  }
}
