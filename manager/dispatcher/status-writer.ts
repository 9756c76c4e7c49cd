// Batched node status writes. The dispatcher decides transitions (READY on a session, DOWN on a
// lapse, UNKNOWN on takeover); this writes them through a CoalescingWriter: the latest wanted status
// per node, skipping nodes whose stored status already is what is wanted.
import { Node } from "../../proto/gen/objects.js";
import { NodeDescription, NodeStatus, type NodeState } from "../../proto/gen/types.js";
import { StoreError, StoreErrorCode, type MemoryStore, type StoreObject } from "../store/index.js";
import { CoalescingWriter } from "./coalescing-writer.js";

/** A node's wanted status. Fields left undefined keep what is stored. */
export interface StatusChange {
  state: NodeState;
  message: string;
  /** The node's IP as the manager sees it; undefined keeps the stored one. */
  addr?: string;
  /** What the agent reported; undefined keeps the stored one. */
  description?: NodeDescription;
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
  private readonly writer: CoalescingWriter<StatusChange>;

  constructor(opts: StatusWriterOptions) {
    this.writer = new CoalescingWriter<StatusChange>({
      store: opts.store,
      kind: "node",
      apply: (cur, change) => {
        const next = cur ? applyStatus(cur as unknown as Node, change) : null;
        return next ? { next: next as unknown as StoreObject, bytes: Node.encode(next).finish().length } : null;
      },
      merge,
      ...(opts.maxTxBytes !== undefined ? { maxTxBytes: opts.maxTxBytes } : {}),
      ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
  }

  /**
   * Wants `change` for `nodeId`. Resolves once it is applied (or found already there); rejects with
   * NOT_FOUND when the node is not in the store, or with the store's error when the write failed.
   */
  set(nodeId: string, change: StatusChange): Promise<void> {
    const closed = this.writer.closed;
    if (closed) return Promise.reject(closed);
    return new Promise<void>((resolve, reject) => {
      this.writer.enqueue(nodeId, change, { done: (found) => (found ? resolve() : reject(notMember(nodeId))), failed: reject });
    });
  }

  /** Changes waiting for the next transaction. */
  get queued(): number {
    return this.writer.queued;
  }

  /** Drops every queued change, rejecting its waiters with `err`; later set() calls fail with it too. */
  close(err: Error): void {
    this.writer.close(err);
  }
}
