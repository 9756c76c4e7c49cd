// Coalesced, batched writes of one kind of stored object (node statuses, task statuses): the latest
// wanted value per object id is queued and written in as few transactions as fit a byte budget, one
// transaction in flight at a time, so whatever piles up meanwhile goes in the next one. A
// transaction that loses an optimistic-concurrency race is rebuilt from the new state, a bounded
// number of times. What a value does to an object, and how two values merge, is the caller's.
import { StoreError, StoreErrorCode, type Kind, type MemoryStore, type StoreObject } from "../store/index.js";

/** Told the fate of the value it queued. */
export interface WriteWaiter {
  /** Written, or nothing to write; `found` says whether the object exists. */
  done(found: boolean): void;
  failed(err: Error): void;
}

export interface CoalescingWriterOptions<V> {
  store: MemoryStore;
  kind: Kind;
  /** The object with `value` applied (and its encoded size), or null when there is nothing to write. */
  apply(cur: StoreObject | undefined, value: V): { next: StoreObject; bytes: number } | null;
  /** A value queued after `queued` for the same object, folded into it. */
  merge(queued: V, incoming: V): V;
  /** Budget of one transaction's encoded objects. Default 512 KiB (the store refuses over 1 MiB). */
  maxTxBytes?: number;
  /** Conflicting transactions are rebuilt this many times before their values are given up. Default 10. */
  maxAttempts?: number;
  /** A write failed for good (e.g. leadership lost); its waiters are told too. */
  onError?: (e: Error, ids: string[]) => void;
}

interface Entry<V> {
  value: V;
  waiters: WriteWaiter[];
  attempts: number;
}

export class CoalescingWriter<V> {
  private readonly pending = new Map<string, Entry<V>>();
  private writing = false;
  private closedWith: Error | null = null;
  private readonly maxTxBytes: number;
  private readonly maxAttempts: number;

  constructor(private readonly opts: CoalescingWriterOptions<V>) {
    this.maxTxBytes = opts.maxTxBytes ?? 512 * 1024;
    this.maxAttempts = opts.maxAttempts ?? 10;
  }

  /** Why queueing is refused (the writer was closed), or null. */
  get closed(): Error | null {
    return this.closedWith;
  }

  /** Values waiting for the next transaction. */
  get queued(): number {
    return this.pending.size;
  }

  /** Queues `value` for object `id`; `waiter` (once per id) hears how it went. */
  enqueue(id: string, value: V, waiter: WriteWaiter): void {
    this.put(id, { value, waiters: [waiter], attempts: 0 });
    queueMicrotask(() => void this.drain());
  }

  /** Drops every queued value, failing its waiters with `err`; later values fail with it too. */
  close(err: Error): void {
    this.closedWith = err;
    for (const e of this.pending.values()) for (const w of e.waiters) w.failed(err);
    this.pending.clear();
  }

  private put(id: string, entry: Entry<V>): void {
    const queued = this.pending.get(id);
    if (!queued) {
      this.pending.set(id, entry);
      return;
    }
    queued.value = this.opts.merge(queued.value, entry.value);
    for (const w of entry.waiters) if (!queued.waiters.includes(w)) queued.waiters.push(w);
  }

  /** Puts back values of a transaction that lost a race; a value queued meanwhile for the same object merges in. */
  private requeue(taken: [string, Entry<V>][]): void {
    for (const [id, e] of taken) {
      const newer = this.pending.get(id);
      this.pending.delete(id);
      this.pending.set(id, e);
      if (newer) this.put(id, newer);
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

  /** Writes one transaction of queued values (as many as fit the budget). */
  private async writeOne(): Promise<void> {
    let taken: [string, Entry<V>][] = [];
    const missing = new Set<string>();
    try {
      await this.opts.store.update((tx) => {
        taken = [];
        missing.clear();
        let bytes = 0;
        for (const [id, e] of this.pending) {
          const cur = tx.get(this.opts.kind, id);
          const out = this.opts.apply(cur, e.value);
          if (out && bytes > 0 && bytes + out.bytes > this.maxTxBytes) break;
          this.pending.delete(id);
          taken.push([id, e]);
          if (!cur) missing.add(id);
          if (!out) continue;
          bytes += out.bytes;
          tx.update(this.opts.kind, out.next);
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
    for (const [id, e] of taken) for (const w of e.waiters) w.done(!missing.has(id));
  }

  private fail(taken: [string, Entry<V>][], err: Error): void {
    if (taken.length === 0) return;
    for (const [, e] of taken) for (const w of e.waiters) w.failed(err);
    this.opts.onError?.(err, taken.map(([id]) => id));
  }
}
