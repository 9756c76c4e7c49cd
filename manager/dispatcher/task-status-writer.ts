// Batched task status writes: what agents report through UpdateTaskStatus. The latest status per
// task is queued (a lower state never replaces a higher one: states only move forward) and written
// in as few transactions as fit, one in flight at a time, so whatever arrives meanwhile goes in the
// next one: under load the Raft round trip is the batching window (SwarmKit flushes every 100 ms or
// at 10,000 queued). At write time a status is dropped silently when the stored state is higher or
// the stored status is the same, and when the task is gone (the reaper deleted it). Each written
// status is stamped applied_by (this manager) and applied_at (its clock). A transaction that lost an
// optimistic-concurrency race (an orchestrator changed one of its tasks) is rebuilt from the new state.
import { Task } from "../../proto/gen/objects.js";
import { TaskStatus } from "../../proto/gen/types.js";
import { StoreError, StoreErrorCode, type MemoryStore, type StoreObject } from "../store/index.js";

/** A status the caller's node reported for one of its tasks. */
export interface TaskStatusReport {
  taskId: string;
  /** The node that reported it: the write is skipped if the task is not (or no longer) on it. */
  nodeId: string;
  status: TaskStatus;
}

export interface TaskStatusWriterOptions {
  store: MemoryStore;
  /** Stamped as status.applied_by: this manager's node id. Default "". */
  appliedBy?: string;
  /** Milliseconds since the Unix epoch, stamped as status.applied_at_unix_ms. Default Date.now. */
  wallClock?: () => number;
  /** Budget of one transaction's encoded tasks. Default 512 KiB (the store refuses over 1 MiB). */
  maxTxBytes?: number;
  /** Conflicting transactions are rebuilt this many times before their statuses are given up. Default 10. */
  maxAttempts?: number;
  /** A write failed for good (e.g. leadership lost); its waiters are rejected too. */
  onError?: (e: Error, taskIds: string[]) => void;
}

/** One set() call: settled once every one of its statuses is written, dropped or failed. */
interface Waiter {
  remaining: number;
  settled: boolean;
  resolve(): void;
  reject(e: Error): void;
}

interface Entry {
  nodeId: string;
  status: TaskStatus;
  waiters: Waiter[];
  attempts: number;
}

const statusBytes = (s: TaskStatus): Buffer => Buffer.from(TaskStatus.encode({ ...s, appliedBy: "", appliedAtUnixMs: 0 }).finish());

/**
 * The task with `status` applied and stamped, or null when there is nothing to write: the stored
 * state is higher (states never move backwards) or the stored status is the same (applied_by and
 * applied_at aside).
 */
export function applyTaskStatus(cur: Task, status: TaskStatus, appliedBy: string, appliedAtUnixMs: number): Task | null {
  const stored = cur.status;
  if (stored && status.state < stored.state) return null;
  if (stored && statusBytes(stored).equals(statusBytes(status))) return null;
  // A shallow copy: the shared parts of the stored task are not changed; meta is, by the store's stamp.
  return { ...cur, meta: cur.meta ? { ...cur.meta } : undefined, status: { ...TaskStatus.fromPartial(status), appliedBy, appliedAtUnixMs } };
}

/** Of two statuses of one task, the one to keep: the later, unless it names a lower state. */
function later(earlier: TaskStatus, next: TaskStatus): TaskStatus {
  return next.state >= earlier.state ? next : earlier;
}

export class TaskStatusWriter {
  private readonly pending = new Map<string, Entry>();
  private writing = false;
  private closedWith: Error | null = null;
  private readonly maxTxBytes: number;
  private readonly maxAttempts: number;
  private readonly wallClock: () => number;

  constructor(private readonly opts: TaskStatusWriterOptions) {
    this.maxTxBytes = opts.maxTxBytes ?? 512 * 1024;
    this.maxAttempts = opts.maxAttempts ?? 10;
    this.wallClock = opts.wallClock ?? Date.now;
  }

  /**
   * Queues statuses. Resolves once each is applied or dropped (lower state, same status, task gone
   * or on another node); rejects with the store's error when a write failed for good.
   */
  set(reports: TaskStatusReport[]): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (reports.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { remaining: 0, settled: false, resolve, reject };
      for (const r of reports) {
        const queued = this.pending.get(r.taskId);
        if (queued?.waiters.includes(w)) {
          queued.status = later(queued.status, r.status);
          continue;
        }
        w.remaining++;
        this.enqueue(r.taskId, { nodeId: r.nodeId, status: r.status, waiters: [w], attempts: 0 });
      }
      queueMicrotask(() => void this.drain());
    });
  }

  /** Statuses waiting for the next transaction. */
  get queued(): number {
    return this.pending.size;
  }

  /** Drops every queued status, rejecting its waiters with `err`; later set() calls fail with it too. */
  close(err: Error): void {
    this.closedWith = err;
    for (const e of this.pending.values()) for (const w of e.waiters) settle(w, err);
    this.pending.clear();
  }

  private enqueue(taskId: string, entry: Entry): void {
    const queued = this.pending.get(taskId);
    if (!queued) {
      this.pending.set(taskId, entry);
      return;
    }
    queued.status = later(queued.status, entry.status);
    queued.nodeId = entry.nodeId;
    queued.waiters.push(...entry.waiters);
  }

  /** Puts back statuses of a transaction that lost a race; a status queued meanwhile for the same task merges in. */
  private requeue(taken: [string, Entry][]): void {
    for (const [id, e] of taken) {
      const newer = this.pending.get(id);
      this.pending.delete(id);
      this.pending.set(id, e);
      if (newer) this.enqueue(id, newer);
    }
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.size > 0 && !this.closedWith) await this.writeOne();
    } finally {
      this.writing = false;
    }
  }

  /** Writes one transaction of queued statuses (as many as fit the budget). */
  private async writeOne(): Promise<void> {
    let taken: [string, Entry][] = [];
    const appliedBy = this.opts.appliedBy ?? "";
    const now = this.wallClock();
    try {
      await this.opts.store.update((tx) => {
        taken = [];
        let bytes = 0;
        for (const [id, e] of this.pending) {
          const cur = tx.get("task", id) as unknown as Task | undefined;
          const next = cur && cur.nodeId === e.nodeId ? applyTaskStatus(cur, e.status, appliedBy, now) : null;
          const size = next ? Task.encode(next).finish().length : 0;
          if (next && bytes > 0 && bytes + size > this.maxTxBytes) break;
          this.pending.delete(id);
          taken.push([id, e]);
          if (!next) continue;
          bytes += size;
          tx.update("task", next as unknown as StoreObject);
        }
      });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (err instanceof StoreError && err.code === StoreErrorCode.Conflict) {
        this.requeue(taken.filter(([, en]) => ++en.attempts < this.maxAttempts));
        this.fail(
          taken.filter(([, en]) => en.attempts >= this.maxAttempts),
          err,
        );
        return;
      }
      this.fail(taken, err);
      return;
    }
    for (const [, e] of taken) for (const w of e.waiters) done(w);
  }

  private fail(taken: [string, Entry][], err: Error): void {
    if (taken.length === 0) return;
    for (const [, e] of taken) for (const w of e.waiters) settle(w, err);
    this.opts.onError?.(err, taken.map(([id]) => id));
  }
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
