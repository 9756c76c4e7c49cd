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
  private readonly byName = new Map<string, string>();
  private readonly secondary = new Map<string, Map<string, Set<string>>>();

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
    if (!ids) return [];
    return [...ids].map((id) => this.byId.get(id)!);
  }

  /** Ids starting with `prefix`. */
  idsWithPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (const id of this.byId.keys()) if (id.startsWith(prefix)) out.push(id);
    return out;
  }

  put(o: StoreObject): void {
    const old = this.byId.get(o.id);
    if (old) this.unindex(old);
    this.byId.set(o.id, o);
    const name = this.nameOf(o);
    if (name !== undefined) this.byName.set(name, o.id);
    for (const [index, keysOf] of Object.entries(this.schema.indexes ?? {})) {
      const map = this.secondary.get(index)!;
      for (const key of keysOf(o)) {
        let ids = map.get(key);
        if (!ids) map.set(key, (ids = new Set()));
        ids.add(o.id);
      }
    }
  }

  remove(id: string): StoreObject | undefined {
    const old = this.byId.get(id);
    if (!old) return undefined;
    this.unindex(old);
    this.byId.delete(id);
    return old;
  }

  clear(): void {
    this.byId.clear();
    this.byName.clear();
    for (const m of this.secondary.values()) m.clear();
  }

  private unindex(o: StoreObject): void {
    const name = this.nameOf(o);
    if (name !== undefined && this.byName.get(name) === o.id) this.byName.delete(name);
    for (const [index, keysOf] of Object.entries(this.schema.indexes ?? {})) {
      const map = this.secondary.get(index)!;
      for (const key of keysOf(o)) {
        const ids = map.get(key);
        ids?.delete(o.id);
        if (ids && ids.size === 0) map.delete(key);
      }
    }
  }
}
