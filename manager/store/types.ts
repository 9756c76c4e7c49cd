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
  /**
   * From a codec with snapshot parts: each action's object as encoded in the transaction (a view into
   * the transaction's bytes, valid while it is applied), or undefined where it could not be located.
   */
  encoded?: (Uint8Array | undefined)[];
}

/** The applied state of every table, as carried in a Raft snapshot. */
export interface SnapshotRecord {
  version: number;
  tables: Partial<Record<Kind, StoreObject[]>>;
  /** From a codec with snapshot parts: each object's part, in the order of `tables` (see StoreCodec.snapshotPart). */
  parts?: Partial<Record<Kind, string[]>>;
}

/** Every table's snapshot parts, captured at one version, in table order. */
export interface CapturedParts {
  version: number;
  tables: Partial<Record<Kind, { parts: string[]; bytes: number }>>;
}

/** Encodes transactions and snapshots for Raft (protobuf in production, JSON in tests). */
export interface StoreCodec {
  encodeTx(tx: TxRecord): Uint8Array;
  decodeTx(data: Uint8Array): TxRecord;
  encodeSnapshot(s: SnapshotRecord): Uint8Array;
  decodeSnapshot(data: Uint8Array): SnapshotRecord;
  /** The same bytes as encodeSnapshot, produced in slices that yield to the event loop. */
  encodeSnapshotAsync?(s: SnapshotRecord): Promise<Uint8Array>;
  /**
   * Optional snapshot parts: an applied object's part of a snapshot (its encoded field, as a latin1
   * string), which the store keeps next to the object so that a snapshot is only a concatenation of
   * parts: no encoding, no garbage on the JS heap. `encoded` is the object as it was in its transaction
   * (TxRecord.encoded), before apply set its meta; without it the object is encoded afresh.
   * A codec with snapshotPart also implements joinSnapshotParts and joinSnapshotPartsAsync.
   */
  snapshotPart?(kind: Kind, o: StoreObject, encoded?: Uint8Array): string;
  /**
   * The snapshot made of captured parts: the same bytes as encodeSnapshot of the same objects,
   * written into `alloc(size)` (default: a new off-heap buffer of that size).
   */
  joinSnapshotParts?(c: CapturedParts, alloc?: (size: number) => Buffer): Uint8Array;
  /** joinSnapshotParts in slices that yield to the event loop. */
  joinSnapshotPartsAsync?(c: CapturedParts, alloc?: (size: number) => Buffer): Promise<Uint8Array>;
}

/** A change as watchers see it, after it is applied. */
export type StoreEvent =
  | { type: "create"; kind: Kind; version: number; object: StoreObject }
  | { type: "update"; kind: Kind; version: number; object: StoreObject; old: StoreObject }
  | { type: "remove"; kind: Kind; version: number; old: StoreObject }
  /** Every change of one transaction precedes its commit marker. */
  | { type: "commit"; version: number };
