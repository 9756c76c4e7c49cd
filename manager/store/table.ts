// One kind's objects with their indexes: by id, by unique name, and secondary indexes that map a
// key (service id, node id, slot, desired state, label, referenced secret…) to object ids.
import type { Kind, StoreObject } from "./types.js";

/** How a kind is indexed. Index functions return every key an object is found under. */
export interface TableSchema {
  kind: Kind;
  /** The object's unique name, for kinds that have names. */
  name?: (o: StoreObject) => string | undefined;
  indexes?: Record<string, (o: StoreObject) => string[]>;
}

export class Table {
  private readonly byId = new Map<string, StoreObject>();
  /** Each object's snapshot part (see StoreCodec.snapshotPart), in the same order as byId. */
  private readonly parts = new Map<string, string>();
  private partBytes = 0;
  private readonly byName = new Map<string, string>();
  /** Index → key → the id holding it, or the ids (most keys of the task slot index, say, have one). */
  private readonly secondary = new Map<string, Map<string, Set<string> | string>>();

  constructor(readonly schema: TableSchema) {
    for (const name of Object.keys(schema.indexes ?? {})) this.secondary.set(name, new Map());
  }

  get size(): number {
    return this.byId.size;
  }

  get(id: string): StoreObject | undefined {
    return this.byId.get(id);
  }

  nameOf(o: StoreObject): string | undefined {
    return this.schema.name?.(o) || undefined;
  }

  /** The id of the object holding `name`, if any. */
  idByName(name: string): string | undefined {
    return this.byName.get(name);
  }

  all(): IterableIterator<StoreObject> {
    return this.byId.values();
  }

  /** Objects whose index `index` holds `key`. */
  find(index: string, key: string): StoreObject[] {
    const ids = this.secondary.get(index)?.get(key);
    if (ids === undefined) return [];
    if (typeof ids === "string") return [this.byId.get(ids)!];
    return [...ids].map((id) => this.byId.get(id)!);
  }

  /** Ids starting with `prefix`. */
  idsWithPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (const id of this.byId.keys()) if (id.startsWith(prefix)) out.push(id);
    return out;
  }

  /**
   * Every object's snapshot part, in table order (that of all()), with their total length; null unless
   * every object has one. The parts are strings: the capture is a consistent copy at this version.
   */
  captureParts(): { parts: string[]; bytes: number } | null {
    if (this.parts.size !== this.byId.size) return null;
    const parts = new Array<string>(this.parts.size);
    let i = 0;
    for (const p of this.parts.values()) parts[i++] = p;
    return { parts, bytes: this.partBytes };
  }

  /** Stores `o` (replacing the object with its id) with its snapshot part, if the codec makes them. */
  put(o: StoreObject, part?: string): void {
    const old = this.byId.get(o.id);
    if (old) this.unindex(old);
    this.byId.set(o.id, o);
    this.setPart(o.id, part);
    const name = this.nameOf(o);
    if (name !== undefined) this.byName.set(name, o.id);
    for (const [index, keysOf] of Object.entries(this.schema.indexes ?? {})) {
      const map = this.secondary.get(index)!;
      for (const key of keysOf(o)) {
        const ids = map.get(key);
        if (ids === undefined) map.set(key, o.id);
        else if (typeof ids !== "string") ids.add(o.id);
        else if (ids !== o.id) map.set(key, new Set([ids, o.id]));
      }
    }
  }

  remove(id: string): StoreObject | undefined {
    const old = this.byId.get(id);
    if (!old) return undefined;
    this.unindex(old);
    this.byId.delete(id);
    this.setPart(id, undefined);
    return old;
  }

  clear(): void {
    this.byId.clear();
    this.parts.clear();
    this.partBytes = 0;
    this.byName.clear();
    for (const m of this.secondary.values()) m.clear();
  }

  private setPart(id: string, part: string | undefined): void {
    const old = this.parts.get(id);
    if (old !== undefined) this.partBytes -= old.length;
    if (part === undefined) {
      this.parts.delete(id);
      return;
    }
    // Map.set keeps an existing key's place, as byId does: both iterate in the same order.
    this.parts.set(id, part);
    this.partBytes += part.length;
  }

  private unindex(o: StoreObject): void {
    const name = this.nameOf(o);
    if (name !== undefined && this.byName.get(name) === o.id) this.byName.delete(name);
    for (const [index, keysOf] of Object.entries(this.schema.indexes ?? {})) {
      const map = this.secondary.get(index)!;
      for (const key of keysOf(o)) {
        const ids = map.get(key);
        if (ids === undefined) continue;
        if (typeof ids === "string") {
          if (ids === o.id) map.delete(key);
        } else if (ids.delete(o.id) && ids.size <= 1) {
          const [last] = ids;
          if (last === undefined) map.delete(key);
          else map.set(key, last);
        }
      }
    }
  }
}
