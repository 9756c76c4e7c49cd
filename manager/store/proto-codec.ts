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

const ENCODERS: Record<Kind, (o: StoreObject) => Uint8Array> = {
  node: (o) => Node.encode(o as unknown as Node).finish(),
  service: (o) => Service.encode(o as unknown as Service).finish(),
  task: (o) => Task.encode(o as unknown as Task).finish(),
  network: (o) => Network.encode(o as unknown as Network).finish(),
  secret: (o) => Secret.encode(o as unknown as Secret).finish(),
  config: (o) => Config.encode(o as unknown as Config).finish(),
  cluster: (o) => Cluster.encode(o as unknown as Cluster).finish(),
};

/** StoreSnapshot field numbers, in the order protobufjs writes them. */
const FIELD_NUMBERS: [Kind, number][] = [
  ["node", 2],
  ["service", 3],
  ["task", 4],
  ["network", 5],
  ["secret", 6],
  ["config", 7],
  ["cluster", 8],
];

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

const SLICE = 512;

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
  async encodeSnapshotAsync(s: SnapshotRecord): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    if (s.version) parts.push(Uint8Array.of(0x08), varint(s.version));
    let n = 0;
    for (const [kind, field] of FIELD_NUMBERS) {
      const key = varint((field << 3) | 2);
      for (const o of s.tables[kind] ?? []) {
        // Applied objects are complete messages (decoded from a transaction or snapshot): no copy needed.
        const bytes = ENCODERS[kind](o);
        parts.push(key, varint(bytes.length), bytes);
        if (++n % SLICE === 0) await new Promise((r) => setImmediate(r));
      }
    }
    return Buffer.concat(parts);
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
