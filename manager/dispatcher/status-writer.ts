// Batched node status writes. The dispatcher decides transitions (READY on a session, DOWN on a
// lapse, UNKNOWN on takeover); this writes them: the latest wanted status per node, coalesced, in as
// few transactions as fit (one in flight at a time, so whatever piles up meanwhile goes in the next),
// skipping nodes whose stored status already is what is wanted. A transaction that loses a race
// with another writer of the same node (FAILED_PRECONDITION) is rebuilt from the new state.
import { Node } from "../../proto/gen/objects.js";
import { NodeDescription, NodeStatus, type NodeState } from "../../proto/gen/types.js";
import { StoreError, StoreErrorCode, type MemoryStore, type StoreObject } from "../store/index.js";

/** A node's wanted status. Fields left undefined keep what is stored. */
export interface StatusChange {
  state: NodeState;
  message: string;
  /** The node's IP as the manager sees it; undefined keeps the stored one. */
  addr?: string;
  /** What the agent reported; undefined keeps the stored one. */
  description?: NodeDescription;
}

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

interface Entry {
  change: StatusChange;
  waiters: Waiter[];
  attempts: number;
}

export interface StatusWriterOptions {
  store: MemoryStore;
  /** Budget of one transaction's encoded nodes. Default 512 KiB (the store refuses over 1 MiB). */
  maxTxBytes?: number;
  /** Conflicting transactions are rebuilt this many times before the change is given up. Default 10. */
  maxAttempts?: number;
  /** A write failed for good (e.g. leadership lost); its waiters are rejected too. */
  onError?: (e: Error, nodeIds: string[]) => void;
}

/** "node X is not a member of this cluster": the refusal for a node the store does not have. */
export function notMember(nodeId: string): StoreError {
  return new StoreError(StoreErrorCode.NotFound, `node ${nodeId} is not a member of this cluster`);
}

const descriptionBytes = (d: NodeDescription | undefined): Buffer => Buffer.from(NodeDescription.encode(d ?? NodeDescription.fromPartial({})).finish());

/** The node with `change` applied, or null when it already has it (no transition, nothing to write). */
export function applyStatus(cur: Node, change: StatusChange): Node | null {
  const status = cur.status ?? NodeStatus.fromPartial({});
  const addr = change.addr ?? status.addr;
  const sameStatus = status.state === change.state && status.message === change.message && status.addr === addr;
  const sameDescription = change.description === undefined || descriptionBytes(change.description).equals(descriptionBytes(cur.description));
  if (sameStatus && sameDescription) return null;
  const next = Node.fromPartial(cur);
  next.status = { state: change.state, message: change.message, addr };
  if (change.description !== undefined) next.description = NodeDescription.fromPartial(change.description);
  return next;
}

/** Merges a later change into an earlier one still pending: the later status wins, unset fields keep the earlier's. */
function merge(earlier: StatusChange, later: StatusChange): StatusChange {
  return {
    state: later.state,
    message: later.message,
    addr: later.addr ?? earlier.addr,
    description: later.description ?? earlier.description,
  };
}

export class NodeStatusWriter {
  private readonly pending = new Map<string, Entry>();
  private writing = false;
  private closedWith: Error | null = null;
  private readonly maxTxBytes: number;
  private readonly maxAttempts: number;

  constructor(private readonly opts: StatusWriterOptions) {
    this.maxTxBytes = opts.maxTxBytes ?? 512 * 1024;
    this.maxAttempts = opts.maxAttempts ?? 10;
  }

  /**
   * Wants `change` for `nodeId`. Resolves once it is applied (or found already there); rejects with
   * NOT_FOUND when the node is not in the store, or with the store's error when the write failed.
   */
  set(nodeId: string, change: StatusChange): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<void>((resolve, reject) => {
      this.enqueue(nodeId, { change, waiters: [{ resolve, reject }], attempts: 0 });
      queueMicrotask(() => void this.drain());
    });
  }

  /** Changes waiting for the next transaction. */
  get queued(): number {
    return this.pending.size;
  }

  /** Drops every queued change, rejecting its waiters with `err`; later set() calls fail with it too. */
  close(err: Error): void {
    this.closedWith = err;
    for (const e of this.pending.values()) for (const w of e.waiters) w.reject(err);
    this.pending.clear();
  }

  private enqueue(nodeId: string, entry: Entry): void {
    const queued = this.pending.get(nodeId);
    if (!queued) {
      this.pending.set(nodeId, entry);
      return;
    }
    queued.change = merge(queued.change, entry.change);
    queued.waiters.push(...entry.waiters);
  }

  /** Puts back changes of a transaction that lost a race; a newer queued change for the same node wins. */
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

  /** Writes one transaction of queued changes (as many as fit the budget). */
  private async writeOne(): Promise<void> {
    let taken: [string, Entry][] = [];
    const missing = new Set<string>();
    try {
      await this.opts.store.update((tx) => {
        taken = [];
        missing.clear();
        let bytes = 0;
        for (const [id, e] of this.pending) {
          const cur = tx.get("node", id) as unknown as Node | undefined;
          const next = cur ? applyStatus(cur, e.change) : null;
          const size = next ? Node.encode(next).finish().length : 0;
          if (next && bytes > 0 && bytes + size > this.maxTxBytes) break;
          this.pending.delete(id);
          taken.push([id, e]);
          if (!cur) missing.add(id);
          if (!next) continue;
          bytes += size;
          tx.update("node", next as unknown as StoreObject);
        }
      });
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (err instanceof StoreError && err.code === StoreErrorCode.Conflict) {
        const retry = taken.filter(([, en]) => ++en.attempts < this.maxAttempts);
        const giveUp = taken.filter(([, en]) => en.attempts >= this.maxAttempts);
        this.requeue(retry);
        this.fail(giveUp, err);
        return;
      }
      this.fail(taken, err);
      return;
    }
    for (const [id, e] of taken) {
      for (const w of e.waiters) {
        if (missing.has(id)) w.reject(notMember(id));
        else w.resolve();
      }
    }
  }

  private fail(taken: [string, Entry][], err: Error): void {
    if (taken.length === 0) return;
    for (const [, e] of taken) for (const w of e.waiters) w.reject(err);
    this.opts.onError?.(err, taken.map(([id]) => id));
  }
}
