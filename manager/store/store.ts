// The replicated object store. Reads are synchronous views of the applied state; writes are
// transactions that go through Raft (the Proposer) and resolve once applied on this manager. Every
// manager applies the same committed transactions in the same order, the leader included.
import { StoreError, StoreErrorCode } from "./errors.js";
import { StoreState, Overlay, versionOf } from "./state.js";
import type { TableSchema } from "./table.js";
import type { ActionOp, Kind, StoreCodec, StoreEvent, StoreObject } from "./types.js";
import { WatchHub, type Watch, type WatchOptions } from "./watch.js";

/** What the store needs of Raft: replicate bytes, resolve once applied here. */
export interface Proposer {
  propose(data: Uint8Array): Promise<unknown>;
}

export interface StoreOptions {
  codec: StoreCodec;
  schemas: TableSchema[];
  /** Sets created/updated times on objects being written (the proposer's clock, never the applier's). */
  stamp?: (o: StoreObject, op: ActionOp, nowMs: number) => void;
  now?: () => number;
  /** Largest encoded transaction. Default 1 MiB (Raft's limit is 1.5 MiB). */
  maxTxBytes?: number;
  /** Change events kept for watchers that resume. Default 10,000. */
  eventHistory?: number;
}

/** Consistent reads of the applied state. Objects are shared: never mutate them, copy to change. */
export class ReadView {
  constructor(
    protected readonly state: StoreState,
    protected readonly overlay: Overlay | null,
  ) {}

  get version(): number {
    return this.state.version;
  }

  get(kind: Kind, id: string): StoreObject | undefined {
    return this.state.lookup(kind, id, this.overlay);
  }

  /** Resolves a full id, a unique id prefix or a name, like docker. Throws NOT_FOUND or INVALID_ARGUMENT when ambiguous. */
  resolve(kind: Kind, ref: string): StoreObject {
    const t = this.state.table(kind);
    const exact = this.get(kind, ref);
    if (exact) return exact;
    const byName = t.idByName(ref);
    if (byName !== undefined) {
      const o = this.get(kind, byName);
      if (o) return o;
    }
    if (t.schema.indexes?.["name"]) {
      const named = t.find("name", ref).filter((o) => this.get(kind, o.id));
      if (named.length === 1) return this.get(kind, named[0]!.id)!;
      if (named.length > 1) {
        throw new StoreError(StoreErrorCode.InvalidArgument, `${kind} name "${ref}" is ambiguous: ${named.length} ${kind}s have it; use an id`);
      }
    }
    const ids = t.idsWithPrefix(ref).filter((id) => this.get(kind, id));
    if (ids.length === 1) return this.get(kind, ids[0]!)!;
    if (ids.length > 1) {
      throw new StoreError(StoreErrorCode.InvalidArgument, `${kind} "${ref}" is ambiguous: it prefixes ${ids.length} ids (${ids.slice(0, 3).join(", ")}…)`);
    }
    throw new StoreError(StoreErrorCode.NotFound, `${kind} ${ref} not found`);
  }

  /** Every object of a kind (staged changes of a transaction included). */
  list(kind: Kind): StoreObject[] {
    const out: StoreObject[] = [];
    for (const o of this.state.table(kind).all()) {
      const seen = this.get(kind, o.id);
      if (seen) out.push(seen);
    }
    if (this.overlay) {
      for (const [key, o] of this.overlay.objects) {
        if (o && key.startsWith(`${kind}/`) && !this.state.table(kind).get(o.id)) out.push(o);
      }
    }
    return out;
  }

  /** Objects of a kind under key `key` of index `index` (applied state only). */
  find(kind: Kind, index: string, key: string): StoreObject[] {
    return this.state.table(kind).find(index, key);
  }

  count(kind: Kind): number {
    return this.state.table(kind).size;
  }
}

/** A transaction being built: reads see its own writes; checks run now and again at apply. */
export class Tx extends ReadView {
  readonly actions: { op: ActionOp; kind: Kind; object: StoreObject }[] = [];

  constructor(state: StoreState) {
    super(state, new Overlay());
  }

  private add(op: ActionOp, kind: Kind, object: StoreObject): void {
    const a = { op, kind, object };
    this.state.check(a, this.overlay!);
    this.actions.push(a);
  }

  create(kind: Kind, object: StoreObject): void {
    this.add("create", kind, object);
  }

  /** Updates an object read from the store; `object.meta.version` must still be current. */
  update(kind: Kind, object: StoreObject): void {
    this.add("update", kind, object);
  }

  remove(kind: Kind, id: string): void {
    const current = this.get(kind, id);
    this.add("remove", kind, { id, meta: { version: { index: versionOf(current) } } });
  }
}

/** Snapshots from this size up reuse one buffer (see snapshotAsync). */
const REUSE_SNAPSHOT_BYTES = 1024 * 1024;

export class MemoryStore {
  private readonly state: StoreState;
  private readonly hub: WatchHub;
  private proposer: Proposer | null = null;
  private readonly codec: StoreCodec;
  private readonly maxTxBytes: number;
  /** The buffer snapshotAsync reuses for large snapshots, and whether one is being written. */
  private snapshotBuf: Buffer | null = null;
  private snapshotBufBusy = false;

  constructor(private readonly opts: StoreOptions) {
    this.codec = opts.codec;
    const codec = opts.codec;
    const parts = codec.snapshotPart && codec.joinSnapshotParts && codec.joinSnapshotPartsAsync;
    this.state = new StoreState(opts.schemas, parts ? (kind, o, encoded) => codec.snapshotPart!(kind, o, encoded) : undefined);
    this.hub = new WatchHub(opts.eventHistory ?? 10_000);
    this.maxTxBytes = opts.maxTxBytes ?? 1024 * 1024;
  }

  /** Connects the store to Raft (or to a local proposer in tests). */
  setProposer(p: Proposer): void {
    this.proposer = p;
  }

  get version(): number {
    return this.state.version;
  }

  view<T>(fn: (v: ReadView) => T): T {
    return fn(new ReadView(this.state, null));
  }

  /**
   * Runs `fn` to build a transaction, replicates it and resolves with its version once it is applied
   * here. Rejects with a StoreError (nothing written) when a check fails, at build time or at apply.
   */
  async update(fn: (tx: Tx) => void | Promise<void>): Promise<number> {
    // Only the encoded bytes wait for Raft: the transaction's objects die young instead of being
    // promoted to the old generation while the proposal commits.
    const data = await this.encodeUpdate(fn);
    if (data === null) return this.state.version;
    if (!this.proposer) throw new StoreError(StoreErrorCode.Unavailable, "the store is not connected to raft");
    try {
      return (await this.proposer.propose(data)) as number;
    } catch (e) {
      throw toStoreError(e);
    }
  }

  /** Builds, checks, stamps and encodes a transaction; null when it changes nothing. */
  private async encodeUpdate(fn: (tx: Tx) => void | Promise<void>): Promise<Uint8Array | null> {
    const tx = new Tx(this.state);
    await fn(tx);
    if (tx.actions.length === 0) return null;
    const now = (this.opts.now ?? Date.now)();
    for (const a of tx.actions) if (a.op !== "remove") this.opts.stamp?.(a.object, a.op, now);
    const data = this.codec.encodeTx({ actions: tx.actions });
    if (data.length > this.maxTxBytes) {
      throw new StoreError(
        StoreErrorCode.InvalidArgument,
        `the change is ${data.length} bytes, over the limit of ${this.maxTxBytes} bytes; nothing was written`,
      );
    }
    return data;
  }

  /**
   * Runs many independent transactions, each bounded in size, with at most `concurrency` in
   * flight; Raft batches those in flight into few proposals. Resolves when all are settled.
   */
  async batch(
    fn: (b: { update(fn: (tx: Tx) => void | Promise<void>): void }) => void | Promise<void>,
    concurrency = 256,
  ): Promise<{ committed: number; failed: Error[] }> {
    const pending: ((tx: Tx) => void | Promise<void>)[] = [];
    await fn({ update: (f) => void pending.push(f) });
    let committed = 0;
    const failed: Error[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pending.length) {
        const f = pending[next++]!;
        try {
          await this.update(f);
          committed++;
        } catch (e) {
          failed.push(e as Error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, pending.length) }, worker));
    return { committed, failed };
  }

  watch(opts: WatchOptions = {}): Watch {
    return this.hub.open(opts, this.state.version);
  }

  // ---- the state machine Raft drives ----

  /** Applies a committed transaction; throws the same StoreError on every manager when it is refused. */
  apply(data: Uint8Array, index: number): number {
    const tx = this.codec.decodeTx(data);
    let events: StoreEvent[];
    try {
      events = this.state.apply(tx, index);
    } catch (e) {
      this.state.version = index;
      throw e;
    }
    this.hub.publish(events);
    return index;
  }

  snapshot(): Uint8Array {
    const parts = this.state.captureParts();
    if (parts) return this.codec.joinSnapshotParts!(parts);
    return this.codec.encodeSnapshot(this.state.snapshot());
  }

  /**
   * A snapshot of the state as it is now, made without blocking. With a codec that makes snapshot
   * parts (protobuf), every object's part was made when it was applied: the parts are captured at
   * once and copied into one off-heap buffer in slices, which leaves almost no garbage on the JS heap.
   * Otherwise the tables are captured (applied objects are never changed in place) and encoded in
   * slices while the store moves on.
   *
   * The bytes are valid until the next call: a large snapshot is written into the buffer of the
   * previous one (unless that one is still being written). Tens of megabytes allocated off-heap for
   * every snapshot count against V8's external-memory limit, and crossing it forces a major GC of
   * the whole heap. (Raft copies the bytes into its own snapshot before it asks for the next one.)
   */
  snapshotAsync(): Promise<Uint8Array> {
    const parts = this.state.captureParts();
    if (parts) {
      if (this.snapshotBufBusy) return this.codec.joinSnapshotPartsAsync!(parts);
      this.snapshotBufBusy = true;
      return this.codec.joinSnapshotPartsAsync!(parts, (size) => this.reusedBuffer(size)).finally(() => {
        this.snapshotBufBusy = false;
      });
    }
    const captured = this.state.snapshot();
    return this.codec.encodeSnapshotAsync ? this.codec.encodeSnapshotAsync(captured) : Promise.resolve(this.codec.encodeSnapshot(captured));
  }

  /**
   * A buffer of `size` bytes: fresh below 1 MiB, else the reused one, replaced when too small or
   * under a third used. Its spare room costs no resident memory until written.
   */
  private reusedBuffer(size: number): Buffer {
    if (size < REUSE_SNAPSHOT_BYTES) return Buffer.allocUnsafeSlow(size);
    const b = this.snapshotBuf;
    if (!b || b.length < size || b.length > 3 * size) this.snapshotBuf = Buffer.allocUnsafeSlow(Math.ceil(size * 1.5));
    return this.snapshotBuf!.subarray(0, size);
  }

  restore(data: Uint8Array, index: number): void {
    if (data.length === 0) {
      this.state.restore({ version: index, tables: {} }, index);
    } else {
      this.state.restore(this.codec.decodeSnapshot(data), index);
    }
    this.hub.reset(this.state.version);
  }
}

/** Maps Raft's failures to UNAVAILABLE with their reason; store errors pass through. */
export function toStoreError(e: unknown): Error {
  if (e instanceof StoreError) return e;
  const code = (e as { code?: string }).code ?? "";
  if (code.startsWith("RAFT_")) return new StoreError(StoreErrorCode.Unavailable, (e as Error).message);
  return e instanceof Error ? e : new Error(String(e));
}
