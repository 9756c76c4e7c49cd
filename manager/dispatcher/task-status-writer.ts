// Batched task status writes: what agents report through UpdateTaskStatus. The latest status per
// task is queued (a lower state never replaces a higher one: states only move forward) and written
// in as few transactions as fit, one in flight at a time, so whatever arrives meanwhile goes in the
// next one: under load the Raft round trip is the batching window (SwarmKit flushes every 100 ms or
// at 10,000 queued). At write time a status is dropped silently when the stored state is higher or
// the stored status is the same, and when the task is gone (the reaper deleted it). Each written
// status is stamped applied_by (this manager) and applied_at (its clock). The queue, batching and
// conflict retries are the CoalescingWriter's.
import { Task } from "../../proto/gen/objects.js";
import { TaskStatus } from "../../proto/gen/types.js";
import type { MemoryStore, StoreObject } from "../store/index.js";
import { CoalescingWriter } from "./coalescing-writer.js";

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

/** A queued status and the node that reported it. */
interface Queued {
  nodeId: string;
  status: TaskStatus;
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
  private readonly writer: CoalescingWriter<Queued>;

  constructor(opts: TaskStatusWriterOptions) {
    const appliedBy = opts.appliedBy ?? "";
    const wallClock = opts.wallClock ?? Date.now;
    this.writer = new CoalescingWriter<Queued>({
      store: opts.store,
      kind: "task",
      apply: (cur, q) => {
        const task = cur as unknown as Task | undefined;
        const next = task && task.nodeId === q.nodeId ? applyTaskStatus(task, q.status, appliedBy, wallClock()) : null;
        return next ? { next: next as unknown as StoreObject, bytes: Task.encode(next).finish().length } : null;
      },
      merge: (earlier, next) => ({ nodeId: next.nodeId, status: later(earlier.status, next.status) }),
      ...(opts.maxTxBytes !== undefined ? { maxTxBytes: opts.maxTxBytes } : {}),
      ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
  }

  /**
   * Queues statuses. Resolves once each is applied or dropped (lower state, same status, task gone
   * or on another node); rejects with the store's error when a write failed for good.
   */
  set(reports: TaskStatusReport[]): Promise<void> {
    const closed = this.writer.closed;
    if (closed) return Promise.reject(closed);
    if (reports.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const ids = new Set(reports.map((r) => r.taskId));
      let remaining = ids.size;
      let settled = false;
      const waiter = {
        done: (): void => {
          if (settled || --remaining > 0) return;
          settled = true;
          resolve();
        },
        failed: (err: Error): void => {
          if (settled) return;
          settled = true;
          reject(err);
        },
      };
      for (const r of reports) this.writer.enqueue(r.taskId, { nodeId: r.nodeId, status: r.status }, waiter);
    });
  }

  /** Statuses waiting for the next transaction. */
  get queued(): number {
    return this.writer.queued;
  }

  /** Drops every queued status, rejecting its waiters with `err`; later set() calls fail with it too. */
  close(err: Error): void {
    this.writer.close(err);
  }
}
