// The production StoreCodec: transactions as StoreActionBatch and snapshots as StoreSnapshot protos.
import { Cluster, Config, Network, Node, Secret, Service, Task } from "../../proto/gen/objects.js";
import { StoreActionBatch, StoreActionKind, StoreSnapshot, type StoreAction as PbAction } from "../../proto/gen/store.js";
import { Meta } from "../../proto/gen/types.js";
import { StoreError, StoreErrorCode } from "./errors.js";
import { Fields } from "./proto-fields.js";
import { shareTaskSpec } from "./shared-task-specs.js";
import type { ActionOp, CapturedParts, Kind, SnapshotRecord, StoreAction, StoreCodec, StoreObject, TxRecord } from "./types.js";

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

const KIND_OF_FIELD = new Map<number, Kind>(FIELD_NUMBERS.map(([kind, field]) => [field, kind]));
const FIELD_OF_KIND = new Map<Kind, number>(FIELD_NUMBERS);

// ---- snapshot parts ----
//
// A snapshot is `version` then one length-delimited field per object, kind after kind (the
// StoreSnapshot message as protobufjs writes it). Each applied object's field is kept as a latin1
// string (one flat, pointer-free heap object), so a snapshot is only a copy of those strings into
// one off-heap buffer: nothing is encoded and nothing but that buffer is allocated.
//
// An applied object's part is made from the bytes it was decoded from (in the transaction, or in the
// snapshot it was restored from): apply changes only its meta (field 2, right after the id), which
// is spliced in; anything unexpected in those bytes makes it encode the object instead.

const outer = new Fields();
const inner = new Fields();

function varintLength(n: number): number {
  let len = 1;
  while (n > 127) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** Where snapshot parts are assembled before they become strings; grows as needed. */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

function reserve(n: number): void {
  if (scratch.length < n) scratch = Buffer.allocUnsafeSlow(Math.max(n, scratch.length * 2));
}

function putVarint(pos: number, n: number): number {
  while (n > 127) {
    scratch[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  scratch[pos++] = n;
  return pos;
}

/** Copies b[from, to) into the scratch buffer at pos (no view allocated). */
function putBytes(pos: number, b: Uint8Array, from: number, to: number): number {
  Buffer.prototype.copy.call(b, scratch, pos, from, to);
  return pos + (to - from);
}

const uint = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;

/**
 * The length of the Meta message as protobufjs encodes `meta`, when every field is a non-negative
 * safe integer (or absent, for the version); -1 otherwise (then Meta.encode does it).
 */
function metaLength(meta: Meta): number {
  const { version, createdAtUnixMs: created, updatedAtUnixMs: updated } = meta;
  if ((version !== undefined && !uint(version.index)) || !uint(created) || !uint(updated)) return -1;
  let len = 0;
  if (version !== undefined) {
    const v = version.index !== 0 ? 1 + varintLength(version.index) : 0;
    len += 1 + varintLength(v) + v;
  }
  if (created !== 0) len += 1 + varintLength(created);
  if (updated !== 0) len += 1 + varintLength(updated);
  return len;
}

function putMeta(pos: number, meta: Meta): number {
  const { version, createdAtUnixMs: created, updatedAtUnixMs: updated } = meta;
  if (version !== undefined) {
    scratch[pos++] = 0x0a;
    if (version.index !== 0) {
      pos = putVarint(pos, 1 + varintLength(version.index));
      scratch[pos++] = 0x08;
      pos = putVarint(pos, version.index);
    } else {
      scratch[pos++] = 0;
    }
  }
  if (created !== 0) {
    scratch[pos++] = 0x10;
    pos = putVarint(pos, created);
  }
  if (updated !== 0) {
    scratch[pos++] = 0x18;
    pos = putVarint(pos, updated);
  }
  return pos;
}

/**
 * The part of `o` from `encoded`, the bytes it was decoded from before apply replaced its meta:
 * id (field 1) first, then meta (field 2), neither again later, as protobufjs writes them.
 * Undefined when the bytes are laid out otherwise. Allocates nothing but the part.
 */
function splicedPart(field: number, o: StoreObject, encoded: Uint8Array): string | undefined {
  let idEnd = 0;
  let metaEnd = 0;
  try {
    const f = outer.reset(encoded, 0, encoded.length);
    while (f.next()) {
      if (f.field !== 1 && f.field !== 2) continue;
      if (f.field === 1 && f.wire === 2 && f.start === 0) idEnd = metaEnd = f.pos;
      else if (f.field === 2 && f.wire === 2 && f.start === idEnd && metaEnd === idEnd) metaEnd = f.pos;
      else return undefined;
    }
  } catch {
    return undefined;
  }
  const meta = o.meta as Meta | undefined;
  const metaLen = meta === undefined ? 0 : metaLength(meta);
  if (metaLen < 0) {
    const bytes = encodeMeta(meta!);
    return framed(field, [encoded.subarray(0, idEnd), Uint8Array.of(0x12, ...varintBytes(bytes.length)), bytes, encoded.subarray(metaEnd)]);
  }
  const metaField = meta === undefined ? 0 : 1 + varintLength(metaLen) + metaLen;
  const len = idEnd + metaField + (encoded.length - metaEnd);
  reserve(len + 16);
  let pos = putVarint(0, field * 8 + 2);
  pos = putVarint(pos, len);
  pos = putBytes(pos, encoded, 0, idEnd);
  if (meta !== undefined) {
    scratch[pos++] = 0x12;
    pos = putVarint(pos, metaLen);
    pos = putMeta(pos, meta);
  }
  pos = putBytes(pos, encoded, metaEnd, encoded.length);
  return scratch.toString("latin1", 0, pos);
}

/** The snapshot field of an object of `field`, whose encoding is pieces[0] + … + pieces[n]. */
function framed(field: number, pieces: Uint8Array[]): string {
  let len = 0;
  for (const p of pieces) len += p.length;
  reserve(len + 16);
  let pos = putVarint(0, field * 8 + 2);
  pos = putVarint(pos, len);
  for (const p of pieces) pos = putBytes(pos, p, 0, p.length);
  return scratch.toString("latin1", 0, pos);
}

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A meta without every field (a store without stamps) does not encode as it is: fill it first. */
function encodeMeta(meta: Meta): Uint8Array {
  try {
    return Meta.encode(meta).finish();
  } catch {
    return Meta.encode(Meta.fromPartial(meta)).finish();
  }
}

function encodedPart(kind: Kind, o: StoreObject): string {
  let bytes: Uint8Array;
  try {
    bytes = ENCODERS[kind](o);
  } catch (e) {
    if (!o.meta) throw e;
    bytes = ENCODERS[kind]({ ...o, meta: Meta.fromPartial(o.meta) as StoreObject["meta"] });
  }
  return framed(FIELD_OF_KIND.get(kind)!, [bytes]);
}

/**
 * Each action's object in a StoreActionBatch: a view of its bytes, found the way StoreActionBatch.decode
 * reads them (the last target field of each action wins); undefined where it is not the decoded kind.
 */
function locateTargets(data: Uint8Array, actions: StoreAction[]): (Uint8Array | undefined)[] | undefined {
  const out: (Uint8Array | undefined)[] = [];
  try {
    const f = outer.reset(data, 0, data.length);
    while (f.next()) {
      if (f.field !== 1 || f.wire !== 2) continue;
      const a = inner.reset(data, f.valueStart, f.pos);
      let target: Uint8Array | undefined;
      let targetKind: Kind | undefined;
      while (a.next()) {
        const kind = a.wire === 2 ? KIND_OF_FIELD.get(a.field) : undefined;
        if (kind === undefined) continue;
        target = data.subarray(a.valueStart, a.pos);
        targetKind = kind;
      }
      out.push(targetKind === actions[out.length]?.kind ? target : undefined);
    }
  } catch {
    return undefined;
  }
  return out.length === actions.length ? out : undefined;
}

/**
 * Each object's whole field in a StoreSnapshot, per kind, in the order StoreSnapshot.decode reads
 * them; on the way, the snapshot's `tasks` (as decoded, in that order) share their specs.
 */
function snapshotParts(data: Uint8Array, tasks: Task[]): Partial<Record<Kind, string[]>> | undefined {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const parts: Partial<Record<Kind, string[]>> = {};
  let task = 0;
  try {
    const f = outer.reset(data, 0, data.length);
    while (f.next()) {
      const kind = f.wire === 2 ? KIND_OF_FIELD.get(f.field) : undefined;
      if (kind === undefined) continue;
      (parts[kind] ??= []).push(buf.toString("latin1", f.start, f.pos));
      if (kind === "task" && task < tasks.length) shareTaskSpec(tasks[task++]!, data.subarray(f.valueStart, f.pos));
    }
  } catch {
    return undefined;
  }
  return parts;
}

function snapshotHead(version: number): number[] {
  return version ? [0x08, ...varintBytes(version)] : [];
}

function joined(out: Buffer, pos: number): Buffer {
  if (pos !== out.length) throw new Error(`snapshot parts filled ${pos} of ${out.length} bytes`);
  return out;
}

/** The snapshot's buffer, at its final size (off the JS heap), with the version written. */
function snapshotBuffer(c: CapturedParts, alloc: (size: number) => Buffer): { out: Buffer; pos: number } {
  const head = snapshotHead(c.version);
  let total = head.length;
  for (const [kind] of FIELD_NUMBERS) total += c.tables[kind]?.bytes ?? 0;
  const out = alloc(total);
  if (out.length !== total) throw new Error(`snapshot buffer of ${out.length} bytes for ${total}`);
  out.set(head, 0);
  return { out, pos: head.length };
}

const allocSnapshot = (size: number): Buffer => Buffer.allocUnsafeSlow(size);

/** Parts copied per slice of joinSnapshotPartsAsync (about a millisecond of copying). */
const PART_SLICE = 8192;

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
    const actions = StoreActionBatch.decode(data).actions.map(fromPb);
    const encoded = locateTargets(data, actions);
    if (encoded) {
      actions.forEach((a, i) => {
        if (a.kind === "task" && encoded[i]) shareTaskSpec(a.object as unknown as Task, encoded[i]);
      });
    }
    return encoded ? { actions, encoded } : { actions };
  },
  snapshotPart(kind: Kind, o: StoreObject, encoded?: Uint8Array): string {
    return (encoded && splicedPart(FIELD_OF_KIND.get(kind)!, o, encoded)) ?? encodedPart(kind, o);
  },
  joinSnapshotParts(c: CapturedParts, alloc = allocSnapshot): Uint8Array {
    const b = snapshotBuffer(c, alloc);
    let pos = b.pos;
    for (const [kind] of FIELD_NUMBERS) for (const p of c.tables[kind]?.parts ?? []) pos += b.out.write(p, pos, "latin1");
    return joined(b.out, pos);
  },
  async joinSnapshotPartsAsync(c: CapturedParts, alloc = allocSnapshot): Promise<Uint8Array> {
    const b = snapshotBuffer(c, alloc);
    let pos = b.pos;
    let n = 0;
    for (const [kind] of FIELD_NUMBERS) {
      for (const p of c.tables[kind]?.parts ?? []) {
        pos += b.out.write(p, pos, "latin1");
        if (++n % PART_SLICE === 0) await new Promise((r) => setImmediate(r));
      }
    }
    return joined(b.out, pos);
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
    const parts = snapshotParts(data, pb.tasks);
    return parts ? { version: pb.version, tables, parts } : { version: pb.version, tables };
  },
};
