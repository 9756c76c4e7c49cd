// The store's generic model: object kinds, the shape every stored object shares, the actions a
// transaction is made of, and the events watchers receive.

export const KINDS = ["node", "service", "task", "network", "secret", "config", "cluster"] as const;
export type Kind = (typeof KINDS)[number];

/** What every stored object has: an id and a meta whose version is the Raft index of its last change. */
export interface StoreObject {
  id: string;
  meta?: ObjectMeta | undefined;
}

export interface ObjectMeta {
  version?: { index: number } | undefined;
  /** Set by the proposer when created, kept by every later update. */
  createdAtUnixMs?: number;
  updatedAtUnixMs?: number;
}

export const ActionOp = { Create: "create", Update: "update", Remove: "remove" } as const;
export type ActionOp = (typeof ActionOp)[keyof typeof ActionOp];

/**
 * One change. For update and remove, `object.meta.version.index` is the version the writer read:
 * the change applies only if the stored object still has it (0 or absent skips the check on remove).
 */
export interface StoreAction {
  op: ActionOp;
  kind: Kind;
  object: StoreObject;
}

/** One transaction: applied all or nothing, in the same order on every manager. */
export interface TxRecord {
  actions: StoreAction[];
}

/** The applied state of every table, as carried in a Raft snapshot. */
export interface SnapshotRecord {
  version: number;
  tables: Partial<Record<Kind, StoreObject[]>>;
}

/** Encodes transactions and snapshots for Raft (protobuf in production, JSON in tests). */
export interface StoreCodec {
  encodeTx(tx: TxRecord): Uint8Array;
  decodeTx(data: Uint8Array): TxRecord;
  encodeSnapshot(s: SnapshotRecord): Uint8Array;
  decodeSnapshot(data: Uint8Array): SnapshotRecord;
  /** The same bytes as encodeSnapshot, produced in slices that yield to the event loop. */
  encodeSnapshotAsync?(s: SnapshotRecord): Promise<Uint8Array>;
}

/** A change as watchers see it, after it is applied. */
export type StoreEvent =
  | { type: "create"; kind: Kind; version: number; object: StoreObject }
  | { type: "update"; kind: Kind; version: number; object: StoreObject; old: StoreObject }
  | { type: "remove"; kind: Kind; version: number; old: StoreObject }
  /** Every change of one transaction precedes its commit marker. */
  | { type: "commit"; version: number };
