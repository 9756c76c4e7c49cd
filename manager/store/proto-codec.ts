// The production StoreCodec: transactions as StoreActionBatch and snapshots as StoreSnapshot protos.
import { Cluster, Config, Network, Node, Secret, Service, Task } from "../../proto/gen/objects.js";
import { StoreActionBatch, StoreActionKind, StoreSnapshot, type StoreAction as PbAction } from "../../proto/gen/store.js";
import { StoreError, StoreErrorCode } from "./errors.js";
import type { ActionOp, Kind, SnapshotRecord, StoreAction, StoreCodec, StoreObject, TxRecord } from "./types.js";

const OP_TO_PB: Record<ActionOp, StoreActionKind> = {
  create: StoreActionKind.STORE_ACTION_KIND_CREATE,
  update: StoreActionKind.STORE_ACTION_KIND_UPDATE,
  remove: StoreActionKind.STORE_ACTION_KIND_REMOVE,
};
const PB_TO_OP = new Map<StoreActionKind, ActionOp>(Object.entries(OP_TO_PB).map(([k, v]) => [v, k as ActionOp]));

/** Fills defaults so a partially written object encodes as the full message. */
const FROM_PARTIAL: Record<Kind, (o: object) => StoreObject> = {
  node: (o) => Node.fromPartial(o),
  service: (o) => Service.fromPartial(o),
  task: (o) => Task.fromPartial(o),
  network: (o) => Network.fromPartial(o),
  secret: (o) => Secret.fromPartial(o),
  config: (o) => Config.fromPartial(o),
  cluster: (o) => Cluster.fromPartial(o),
};

function toPb(a: StoreAction): PbAction {
  const object = FROM_PARTIAL[a.kind](a.object);
  return { kind: OP_TO_PB[a.op], target: { $case: a.kind, [a.kind]: object } as PbAction["target"] };
}

function fromPb(a: PbAction): StoreAction {
  const op = PB_TO_OP.get(a.kind);
  if (!op || !a.target) throw new StoreError(StoreErrorCode.InvalidArgument, `corrupt store action (kind ${a.kind})`);
  const t = a.target as unknown as Record<string, unknown> & { $case: Kind };
  return { op, kind: t.$case, object: t[t.$case] as StoreObject };
}

const TABLE_FIELDS: Record<Kind, keyof Omit<StoreSnapshot, "version">> = {
  node: "nodes",
  service: "services",
  task: "tasks",
  network: "networks",
  secret: "secrets",
  config: "configs",
  cluster: "clusters",
};

export const protoCodec: StoreCodec = {
  encodeTx(tx: TxRecord): Uint8Array {
    return StoreActionBatch.encode({ actions: tx.actions.map(toPb) }).finish();
  },
  decodeTx(data: Uint8Array): TxRecord {
    return { actions: StoreActionBatch.decode(data).actions.map(fromPb) };
  },
  encodeSnapshot(s: SnapshotRecord): Uint8Array {
    const pb = StoreSnapshot.fromPartial({ version: s.version });
    for (const [kind, field] of Object.entries(TABLE_FIELDS) as [Kind, keyof Omit<StoreSnapshot, "version">][]) {
      (pb[field] as StoreObject[]) = s.tables[kind] ?? [];
    }
    return StoreSnapshot.encode(pb).finish();
  },
  decodeSnapshot(data: Uint8Array): SnapshotRecord {
    const pb = StoreSnapshot.decode(data);
    const tables: SnapshotRecord["tables"] = {};
    for (const [kind, field] of Object.entries(TABLE_FIELDS) as [Kind, keyof Omit<StoreSnapshot, "version">][]) {
      tables[kind] = pb[field] as StoreObject[];
    }
    return { version: pb.version, tables };
  },
};
