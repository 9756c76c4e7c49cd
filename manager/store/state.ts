// The applied state: every table at one version. Transactions are checked and applied here, all or
// nothing, in log order; the checks (existence, unique names, versions) are deterministic, so every
// manager accepts or refuses the same transaction.
import { StoreError, StoreErrorCode, notFound } from "./errors.js";
import { Table, type TableSchema } from "./table.js";
import type { CapturedParts, Kind, SnapshotRecord, StoreAction, StoreEvent, StoreObject, TxRecord } from "./types.js";
import { KINDS } from "./types.js";

export function versionOf(o: StoreObject | undefined): number {
  return o?.meta?.version?.index ?? 0;
}

/** Staged changes of a transaction being checked: key `kind/id` → object, or null when removed. */
export class Overlay {
  readonly objects = new Map<string, StoreObject | null>();
  readonly names = new Map<string, string | null>();
}

/** Makes an applied object's snapshot part (StoreCodec.snapshotPart). */
export type PartMaker = (kind: Kind, o: StoreObject, encoded?: Uint8Array) => string;

export class StoreState {
  readonly tables = new Map<Kind, Table>();
  version = 0;

  constructor(
    schemas: TableSchema[],
    private readonly partOf?: PartMaker,
  ) {
    for (const kind of KINDS) this.tables.set(kind, new Table(schemas.find((s) => s.kind === kind) ?? { kind }));
  }

  table(kind: Kind): Table {
    return this.tables.get(kind)!;
  }

  /** The object as the transaction sees it (staged changes first). */
  lookup(kind: Kind, id: string, overlay: Overlay | null): StoreObject | undefined {
    const staged = overlay?.objects.get(`${kind}/${id}`);
    if (staged !== undefined) return staged ?? undefined;
    return this.table(kind).get(id);
  }

  private nameOwner(kind: Kind, name: string, overlay: Overlay | null): string | undefined {
    const staged = overlay?.names.get(`${kind}/${name}`);
    if (staged !== undefined) return staged ?? undefined;
    return this.table(kind).idByName(name);
  }

  /** Checks one action against the state plus staged changes, then stages it. Throws StoreError. */
  check(a: StoreAction, overlay: Overlay): void {
    const t = this.table(a.kind);
    const id = a.object.id;
    if (!id) throw new StoreError(StoreErrorCode.InvalidArgument, `${a.kind} has no id`);
    const current = this.lookup(a.kind, id, overlay);
    const key = `${a.kind}/${id}`;
    if (a.op === "create") {
      if (current) throw new StoreError(StoreErrorCode.AlreadyExists, `${a.kind} ${id} already exists`);
    } else {
      if (!current) throw notFound(a.kind, id);
      const expected = versionOf(a.object);
      const actual = versionOf(current);
      if ((a.op === "update" || expected !== 0) && expected !== actual) {
        throw new StoreError(
          StoreErrorCode.Conflict,
          `update out of sequence: ${a.kind} ${id} is at version ${actual}, but the change was based on version ${expected}; read it again and retry`,
        );
      }
    }
    const oldName = current ? t.nameOf(current) : undefined;
    if (a.op === "remove") {
      overlay.objects.set(key, null);
      if (oldName !== undefined) overlay.names.set(`${a.kind}/${oldName}`, null);
      return;
    }
    const name = t.nameOf(a.object);
    if (name !== undefined && name !== oldName) {
      const owner = this.nameOwner(a.kind, name, overlay);
      if (owner !== undefined && owner !== id) {
        throw new StoreError(StoreErrorCode.AlreadyExists, `${a.kind} name "${name}" is already in use by ${a.kind} ${owner}`);
      }
    }
    if (oldName !== undefined && oldName !== name) overlay.names.set(`${a.kind}/${oldName}`, null);
    if (name !== undefined) overlay.names.set(`${a.kind}/${name}`, id);
    overlay.objects.set(key, a.object);
  }

  /** Applies a transaction committed at log `index`; returns its events. Throws (changing nothing) when a check fails. */
  apply(tx: TxRecord, index: number): StoreEvent[] {
    const overlay = new Overlay();
    for (const a of tx.actions) this.check(a, overlay);
    const events: StoreEvent[] = [];
    for (let i = 0; i < tx.actions.length; i++) {
      const a = tx.actions[i]!;
      const t = this.table(a.kind);
      const old = t.get(a.object.id);
      if (a.op === "remove") {
        t.remove(a.object.id);
        events.push({ type: "remove", kind: a.kind, version: index, old: old! });
        continue;
      }
      const obj = a.object;
      obj.meta = { ...obj.meta, version: { index } };
      if (old?.meta?.createdAtUnixMs) obj.meta.createdAtUnixMs = old.meta.createdAtUnixMs;
      t.put(obj, this.part(a.kind, obj, tx.encoded?.[i]));
      events.push(
        old
          ? { type: "update", kind: a.kind, version: index, object: obj, old }
          : { type: "create", kind: a.kind, version: index, object: obj },
      );
    }
    this.version = index;
    events.push({ type: "commit", version: index });
    return events;
  }

  snapshot(): SnapshotRecord {
    const tables: SnapshotRecord["tables"] = {};
    for (const [kind, t] of this.tables) tables[kind] = [...t.all()];
    return { version: this.version, tables };
  }

  /**
   * The object's snapshot part; undefined (never a throw, which would break all-or-nothing apply)
   * when it cannot be made: snapshots then fall back to encoding the objects.
   */
  private part(kind: Kind, o: StoreObject, encoded?: Uint8Array): string | undefined {
    if (!this.partOf) return undefined;
    try {
      return this.partOf(kind, o, encoded);
    } catch {
      return undefined;
    }
  }

  /** Every table's snapshot parts at this version; null when the codec makes none. */
  captureParts(): CapturedParts | null {
    if (!this.partOf) return null;
    const tables: CapturedParts["tables"] = {};
    for (const [kind, t] of this.tables) {
      const c = t.captureParts();
      if (!c) return null;
      tables[kind] = c;
    }
    return { version: this.version, tables };
  }

  restore(s: SnapshotRecord, index: number): void {
    for (const t of this.tables.values()) t.clear();
    for (const kind of KINDS) {
      const objects = s.tables[kind] ?? [];
      const parts = this.partOf && s.parts?.[kind]?.length === objects.length ? s.parts[kind] : undefined;
      const t = this.table(kind);
      for (let i = 0; i < objects.length; i++) t.put(objects[i]!, parts ? parts[i] : this.part(kind, objects[i]!));
    }
    this.version = Math.max(s.version, index);
  }
}
