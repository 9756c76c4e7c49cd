// Task statuses on their way to the managers. The worker reports whenever a task changes state; the
// reporter keeps the latest status per task (a lower state never replaces a higher one) and sends
// them one call at a time, at most `maxUpdates` per call. With no call in flight, what is queued goes
// out on the next turn of the event loop (so the statuses one step of the worker produces travel
// together); while a call is in flight, statuses collect for the next one. There is no timer: the
// manager's round trip is the batching window (its status writer batches again, into Raft). What
// failed is kept for the next try: after a backoff while connected, or as soon as the next session
// is attached. Refusals (e.g. a task of another node) are not retried.
// SwarmKit: agent/reporter.go keeps the latest status per task and retries until sent.
import type { TaskStatusUpdate } from "../../proto/gen/dispatcher.js";
import type { TaskStatus } from "../../proto/gen/types.js";
import { backoffDelay, type Backoff } from "./remotes.js";

/** How statuses are batched. */
export interface StatusBatch {
  /** Most updates in one call; with no call in flight, this many queued are sent at once. Default 100. */
  maxUpdates: number;
}

export const DEFAULT_STATUS_BATCH: StatusBatch = { maxUpdates: 100 };

/** Sends one batch over the current session; resolves once the manager committed it. */
export type SendStatuses = (updates: TaskStatusUpdate[]) => Promise<void>;

export interface StatusReporterOptions {
  batch?: Partial<StatusBatch>;
  /** Waits between retries while connected. Default 100 ms doubling to 8 s. */
  backoff?: Backoff;
  /** Random numbers in [0, 1) for backoff jitter. Default Math.random. */
  random?: () => number;
  /** Whether a failed call must not be retried (its reports are rejected with the error). Default: retry all. */
  isPermanent?: (e: unknown) => boolean;
}

/** One report() call: settled once every one of its statuses is sent or refused. */
interface Waiter {
  remaining: number;
  settled: boolean;
  resolve(): void;
  reject(e: Error): void;
}

interface Entry {
  status: TaskStatus;
  waiters: Waiter[];
}

/** Of two statuses of one task, the one to send: the later, unless it names a lower state. */
function later(earlier: TaskStatus, next: TaskStatus): TaskStatus {
  return next.state >= earlier.state ? next : earlier;
}

function done(w: Waiter): void {
  if (w.settled || --w.remaining > 0) return;
  w.settled = true;
  w.resolve();
}

function settle(w: Waiter, err: Error): void {
  if (w.settled) return;
  w.settled = true;
  w.reject(err);
}

export class StatusReporter {
  private pending = new Map<string, Entry>();
  private send: SendStatuses | null = null;
  private inFlight = false;
  /** Cancels the flush to come: on the next turn, or after a backoff. */
  private cancelFlush: (() => void) | null = null;
  /** Failed calls in a row since the last success or attach. */
  private failures = 0;
  private closedWith: Error | null = null;
  private readonly batch: StatusBatch;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private readonly isPermanent: (e: unknown) => boolean;

  constructor(opts: StatusReporterOptions = {}) {
    this.batch = { ...DEFAULT_STATUS_BATCH, ...opts.batch };
    this.batch.maxUpdates = Math.max(1, this.batch.maxUpdates);
    this.backoff = opts.backoff ?? { initialMs: 100, maxMs: 8_000 };
    this.random = opts.random ?? Math.random;
    this.isPermanent = opts.isPermanent ?? (() => false);
  }

  /** Statuses not sent yet (in flight excluded). */
  get queued(): number {
    return this.pending.size;
  }

  /**
   * Queues statuses. Resolves once the manager committed each (or a later status of the same task);
   * rejects when a call carrying one was refused for good, or on close().
   */
  report(updates: TaskStatusUpdate[]): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const valid = updates.filter((u) => u.status);
    if (valid.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { remaining: 0, settled: false, resolve, reject };
      for (const u of valid) {
        const queued = this.pending.get(u.taskId);
        if (queued) {
          queued.status = later(queued.status, u.status!);
          if (queued.waiters.includes(w)) continue;
          queued.waiters.push(w);
        } else {
          this.pending.set(u.taskId, { status: u.status!, waiters: [w] });
        }
        w.remaining++;
      }
      this.schedule();
    });
  }

  /** A session is up: statuses go out through `send` from now on (queued ones on the next turn). */
  attach(send: SendStatuses): void {
    this.send = send;
    this.failures = 0;
    this.clearFlush();
    this.schedule();
  }

  /** The session is gone: statuses wait for the next attach. A call in flight fails and is kept for then. */
  detach(): void {
    this.send = null;
    this.clearFlush();
  }

  /** Rejects every queued report with `err`; later reports fail with it too. */
  close(err: Error): void {
    this.closedWith = err;
    this.detach();
    for (const e of this.pending.values()) for (const w of e.waiters) settle(w, err);
    this.pending.clear();
  }

  private clearFlush(): void {
    this.cancelFlush?.();
    this.cancelFlush = null;
  }

  /**
   * With a session and no call in flight: sends at once when a full batch is queued, else on the next
   * turn (after a failure: after the backoff). A call in flight schedules again when it settles.
   */
  private schedule(): void {
    if (!this.send || this.inFlight || this.pending.size === 0 || this.closedWith) return;
    if (this.failures > 0) {
      if (this.cancelFlush) return;
      const timer = setTimeout(() => this.onFlushDue(), backoffDelay(this.failures, this.backoff, this.random));
      this.cancelFlush = () => clearTimeout(timer);
      return;
    }
    if (this.pending.size >= this.batch.maxUpdates) {
      this.clearFlush();
      void this.flush();
      return;
    }
    if (this.cancelFlush) return;
    const immediate = setImmediate(() => this.onFlushDue());
    this.cancelFlush = () => clearImmediate(immediate);
  }

  private onFlushDue(): void {
    this.cancelFlush = null;
    void this.flush();
  }

  /** Sends one batch, then schedules the next. */
  private async flush(): Promise<void> {
    const send = this.send;
    if (!send || this.inFlight || this.pending.size === 0) return;
    const taken: [string, Entry][] = [];
    for (const [id, e] of this.pending) {
      if (taken.length >= this.batch.maxUpdates) break;
      taken.push([id, e]);
    }
    for (const [id] of taken) this.pending.delete(id);
    this.inFlight = true;
    let error: unknown = null;
    try {
      await send(taken.map(([taskId, e]) => ({ taskId, status: e.status })));
    } catch (e) {
      error = e ?? new Error("status report failed");
    }
    this.inFlight = false;
    if (error === null) {
      this.failures = 0;
      for (const [, e] of taken) for (const w of e.waiters) done(w);
    } else if (this.closedWith || this.isPermanent(error)) {
      const err = this.closedWith ?? (error instanceof Error ? error : new Error(String(error)));
      for (const [, e] of taken) for (const w of e.waiters) settle(w, err);
    } else {
      this.failures++;
      this.requeue(taken);
    }
    this.schedule();
  }

  /** Puts a failed batch back in front; statuses queued meanwhile for the same tasks merge in. */
  private requeue(taken: [string, Entry][]): void {
    const next = new Map(taken);
    for (const [id, e] of this.pending) {
      const q = next.get(id);
      if (!q) {
        next.set(id, e);
        continue;
      }
      q.status = later(q.status, e.status);
      q.waiters.push(...e.waiters);
    }
    this.pending = next;
  }
}
