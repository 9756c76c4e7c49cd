// Watch streams: recent events are kept in a bounded history so a watcher can resume from a
// version; each watcher has its own bounded queue and is read with `for await`.
import { StoreError, StoreErrorCode } from "./errors.js";
import type { Kind, StoreEvent } from "./types.js";

export interface WatchOptions {
  /** Only these kinds (commit markers always pass). */
  kinds?: Kind[];
  /** Replay every event with a version above this one first. */
  sinceVersion?: number;
  /** Extra filter on change events. */
  filter?: (e: StoreEvent) => boolean;
  /** Events a slow watcher may have queued before it is closed with an error. Default 100,000. */
  maxQueue?: number;
}

/** A live event stream; iterate it, and close() when done. */
export class Watch implements AsyncIterable<StoreEvent> {
  private readonly queue: StoreEvent[] = [];
  private waiting: ((r: IteratorResult<StoreEvent>) => void) | null = null;
  private failWaiting: ((e: Error) => void) | null = null;
  private closed = false;
  private error: Error | null = null;

  constructor(
    private readonly opts: WatchOptions,
    private readonly onClose: (w: Watch) => void,
  ) {}

  matches(e: StoreEvent): boolean {
    if (e.type === "commit") return true;
    if (this.opts.kinds && !this.opts.kinds.includes(e.kind)) return false;
    return this.opts.filter ? this.opts.filter(e) : true;
  }

  push(e: StoreEvent): void {
    if (this.closed || !this.matches(e)) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      this.failWaiting = null;
      w({ value: e, done: false });
      return;
    }
    this.queue.push(e);
    if (this.queue.length > (this.opts.maxQueue ?? 100_000)) {
      this.fail(new StoreError(StoreErrorCode.Unavailable, "watch closed: the watcher fell too far behind"));
    }
  }

  /** Ends the stream with an error (e.g. the store was replaced by a snapshot). */
  fail(err: Error): void {
    if (this.closed) return;
    this.error = err;
    this.queue.length = 0;
    if (this.failWaiting) this.failWaiting(err);
    this.waiting = null;
    this.failWaiting = null;
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    if (this.waiting) this.waiting({ value: undefined, done: true });
    this.waiting = null;
  }

  next(): Promise<IteratorResult<StoreEvent>> {
    const e = this.queue.shift();
    if (e) return Promise.resolve({ value: e, done: false });
    if (this.error) return Promise.reject(this.error);
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<StoreEvent> {
    return { next: () => this.next(), return: () => (this.close(), Promise.resolve({ value: undefined, done: true })) };
  }
}

/** The recent event history and the open watchers. */
export class WatchHub {
  private history: StoreEvent[] = [];
  /** Events with a version above this one are all in the history. */
  private historyFloor = 0;
  private readonly watchers = new Set<Watch>();

  constructor(private readonly historyLimit: number) {}

  open(opts: WatchOptions, currentVersion: number): Watch {
    const w = new Watch(opts, (x) => this.watchers.delete(x));
    const since = opts.sinceVersion;
    if (since !== undefined && since < currentVersion) {
      if (since < this.historyFloor) {
        throw new StoreError(
          StoreErrorCode.Conflict,
          `cannot resume the watch from version ${since}: events before version ${this.historyFloor} are no longer kept; list the objects again`,
        );
      }
      for (const e of this.history) if (e.version > since) w.push(e);
    }
    this.watchers.add(w);
    return w;
  }

  publish(events: StoreEvent[]): void {
    for (const e of events) {
      this.history.push(e);
      for (const w of this.watchers) w.push(e);
    }
    if (this.history.length > this.historyLimit * 2) {
      const dropped = this.history.length - this.historyLimit;
      this.historyFloor = this.history[dropped - 1]!.version;
      this.history = this.history.slice(dropped);
    }
  }

  /** After a snapshot replaced the state: history is void and every watcher must resync. */
  reset(version: number): void {
    this.history = [];
    this.historyFloor = version;
    for (const w of [...this.watchers]) {
      w.fail(new StoreError(StoreErrorCode.Conflict, `the store was replaced by a snapshot at version ${version}; list the objects again`));
    }
  }

  get size(): number {
    return this.watchers.size;
  }
}
