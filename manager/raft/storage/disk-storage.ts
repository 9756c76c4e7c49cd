// RaftDiskStorage: the durable Raft state of one member. Log entries, hard state, the latest-snapshot
// pointer and driver metadata live in a LevelDB at <dir>/log (layout in keys.ts); snapshot payloads
// live in files under <dir>/snapshots (snapshot-files.ts). Every value is sealed (record.ts) through
// the Encryptor. Writes are synced, except one whose only change is the hard state's commit index
// (as etcd's MustSync): a commit index lost in a crash is learnt again from the leader, and LevelDB's
// log keeps writes in order, so the next synced write makes it durable too. Operations run one at a
// time in call order.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { ClassicLevel } from "classic-level";
import type { Entry, HardState, Snapshot } from "../core/types.js";
import { decodeEntry, decodeHardState, encodeEntry, encodeHardState } from "./codec.js";
import { IdentityEncryptor } from "./encryptor.js";
import type { Encryptor } from "./encryptor.js";
import {
  DecryptionError,
  RaftStorageClosedError,
  RaftStorageCompactionError,
  RaftStorageCorruptionError,
  RaftStorageInvalidAppendError,
  RaftStorageInvalidSnapshotError,
  RaftStorageUnsupportedFormatError,
} from "./errors.js";
import {
  ENTRY_KEYS_END,
  ENTRY_KEYS_START,
  FORMAT_KEY,
  HARD_STATE_KEY,
  SNAPSHOT_POINTER_KEY,
  entryAad,
  entryIndexOfKey,
  entryKey,
  metaKey,
  readIndex,
} from "./keys.js";
import { RecordFailure, openRecord, sealRecord } from "./record.js";
import { SnapshotFiles, snapshotFileName } from "./snapshot-files.js";
import type { SnapshotFileRef } from "./snapshot-files.js";

/** Options of {@link RaftDiskStorage.open}. */
export interface RaftDiskStorageOptions {
  /** Seals every stored value and snapshot payload; defaults to {@link IdentityEncryptor}. */
  encryptor?: Encryptor;
}

/** What {@link RaftDiskStorage.load} returns: everything needed to restart the core. */
export interface LoadedRaftState {
  hardState: HardState;
  /** The latest snapshot, or null when none was ever saved. */
  snapshot: Snapshot | null;
  /** Every entry after the snapshot index (or every entry, without a snapshot), in index order. */
  entries: Entry[];
}

/** One write, as taken from a core Ready (synced unless only the commit index changed). */
export interface RaftSaveBatch {
  /** Null when unchanged. */
  hardState: HardState | null;
  /** Contiguous, ascending entries to append (replacing any conflicting suffix). */
  entries: Entry[];
  /** A snapshot received from the leader; null (or index 0) when none. */
  snapshot: Snapshot | null;
}

type BatchOp = { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array };

const FORMAT_VERSION = 1;
const POINTER_VERSION = 1;
const KEY_CHECK = Buffer.from("swarm raft storage key check v1", "utf8");
const ZERO_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };
const LOAD_CHUNK = 512;

function encodePointer(ref: SnapshotFileRef): Uint8Array {
  const file = Buffer.from(ref.file, "utf8");
  const out = Buffer.alloc(17 + file.length);
  out.writeUInt8(POINTER_VERSION, 0);
  out.writeUIntBE(0, 1, 2); // index and term are < 2^53: the top two bytes of each u64 are 0
  out.writeUIntBE(ref.index, 3, 6);
  out.writeUIntBE(0, 9, 2);
  out.writeUIntBE(ref.term, 11, 6);
  out.set(file, 17);
  return out;
}

function decodePointer(bytes: Uint8Array): SnapshotFileRef | null {
  if (bytes.length < 17 || bytes[0] !== POINTER_VERSION) return null;
  const index = readIndex(bytes, 1);
  const term = readIndex(bytes, 9);
  const file = Buffer.from(bytes.buffer, bytes.byteOffset + 17, bytes.length - 17).toString("utf8");
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(term) || index === 0) return null;
  if (file !== snapshotFileName(term, index)) return null;
  return { index, term, file };
}

/**
 * The durable storage of one Raft member. Open with {@link RaftDiskStorage.open}, call {@link load}
 * once to restart the core, then {@link save} every Ready before sending its messages.
 *
 * Stored entries are always one contiguous range [firstIndex(), last]; entries at or below the
 * snapshot index may remain until {@link compact} removes them.
 */
export class RaftDiskStorage {
  /** The storage directory. */
  readonly dir: string;
  /** The LevelDB directory (`<dir>/log`), named in corruption errors. */
  readonly dbPath: string;
  readonly #db: ClassicLevel<Uint8Array, Uint8Array>;
  readonly #files: SnapshotFiles;
  readonly #enc: Encryptor;
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Latest snapshot pointer, or null. */
  #snap: SnapshotFileRef | null;
  /** Stored entries are [#first, #last]; empty when #last < #first (then #first = snapIndex + 1). */
  #first: number;
  #last: number;
  /** The hard state last read or written; null before either (the next save is then synced). */
  #hardState: HardState | null = null;

  private constructor(
    dir: string,
    db: ClassicLevel<Uint8Array, Uint8Array>,
    files: SnapshotFiles,
    enc: Encryptor,
    snap: SnapshotFileRef | null,
    range: { first: number; last: number } | null,
  ) {
    this.dir = dir;
    this.dbPath = path.join(dir, "log");
    this.#db = db;
    this.#files = files;
    this.#enc = enc;
    this.#snap = snap;
    const snapIndex = snap?.index ?? 0;
    this.#first = range?.first ?? snapIndex + 1;
    this.#last = range?.last ?? snapIndex;
  }

  /** Opens (creating if needed) the storage in `dir`; throws DecryptionError if sealed with another key. */
  static async open(dir: string, opts: RaftDiskStorageOptions = {}): Promise<RaftDiskStorage> {
    const enc = opts.encryptor ?? new IdentityEncryptor();
    await mkdir(dir, { recursive: true });
    const files = await SnapshotFiles.open(path.join(dir, "snapshots"), enc);
    const dbPath = path.join(dir, "log");
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dbPath, { keyEncoding: "view", valueEncoding: "view" });
    await db.open();
    try {
      await checkFormat(db, dbPath, enc);
      const snap = await readPointer(db, dbPath, enc);
      const range = await readEntryRange(db, dbPath);
      return new RaftDiskStorage(dir, db, files, enc, snap, range);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /**
   * Reads the latest snapshot, the hard state and every entry after the snapshot, verifying all of
   * it; any inconsistency throws RaftStorageCorruptionError (nothing is silently dropped).
   */
  load(): Promise<LoadedRaftState> {
    return this.#serial(async () => {
      const snap = this.#snap;
      const stored = snap ? await this.#files.read(snap.file, snap) : null;
      const snapshot = stored && { meta: stored.meta, data: plainView(stored.data) };
      const hardState = await this.#readHardState();
      this.#hardState = hardState;
      const entries = await this.#readEntries(snapshot);
      const last = entries.length > 0 ? entries[entries.length - 1]!.index : (snap?.index ?? 0);
      if (hardState.commit > last) {
        throw new RaftStorageCorruptionError(
          this.dbPath,
          hardState.commit,
          `hard state commit ${hardState.commit} is beyond the last stored index ${last}`,
        );
      }
      return { hardState, snapshot, entries };
    });
  }

  /**
   * Persists one Ready in a single batch, synced unless all it changes is the commit index: the snapshot (file first, then its pointer, and the
   * whole previous log deleted), the entries (a conflicting stored suffix is replaced) and the hard
   * state. Entries at or below the snapshot index are covered by it and skipped. An empty batch does
   * nothing. Throws RaftStorageInvalidAppendError (nothing written) when entries would leave a gap.
   */
  save(rd: RaftSaveBatch): Promise<void> {
    const snapshot = rd.snapshot !== null && rd.snapshot.meta.index > 0 ? rd.snapshot : null;
    if (rd.hardState === null && rd.entries.length === 0 && snapshot === null) return Promise.resolve();
    return this.#serial(async () => {
      checkContiguous(rd.entries);
      const ops: BatchOp[] = [];
      let first = this.#first;
      let last = this.#last;
      let snapIndex = this.#snap?.index ?? 0;

      if (snapshot !== null) {
        const s = snapshot.meta.index;
        if (s < snapIndex) {
          throw new RaftStorageInvalidSnapshotError(`snapshot index ${s} is older than the stored snapshot ${snapIndex}`);
        }
        // A leader's snapshot replaces the whole log, as in the core's memory: entries above it may
        // belong to a divergent history, and the leader sends whatever follows it.
        for (let i = first; i <= last; i++) ops.push({ type: "del", key: entryKey(i) });
        first = s + 1;
        last = s;
        snapIndex = s;
      }

      // Entries at or below the snapshot index are covered by it.
      let start = 0;
      while (start < rd.entries.length && rd.entries[start]!.index <= snapIndex) start++;
      if (start < rd.entries.length) {
        const from = rd.entries[start]!.index;
        const to = rd.entries[rd.entries.length - 1]!.index;
        const empty = last < first;
        const next = Math.max(last, snapIndex) + 1;
        if ((!empty || snapIndex > 0) && from > next) {
          throw new RaftStorageInvalidAppendError(`entry ${from} would leave a gap: the log ends at index ${next - 1}`);
        }
        // Conflicting suffix: stored entries past the new last one go; the rest are overwritten.
        for (let i = Math.max(to + 1, first); i <= last; i++) ops.push({ type: "del", key: entryKey(i) });
        for (let k = start; k < rd.entries.length; k++) {
          const e = rd.entries[k]!;
          const key = entryKey(e.index);
          ops.push({ type: "put", key, value: this.#seal(encodeEntry(e), entryAad(key)) });
        }
        first = empty ? from : Math.min(first, from);
        last = to;
      }

      if (rd.hardState !== null) {
        ops.push({ type: "put", key: HARD_STATE_KEY, value: this.#seal(encodeHardState(rd.hardState), HARD_STATE_KEY) });
      }
      let ref = this.#snap;
      if (snapshot !== null) {
        ref = await this.#files.write(snapshot);
        ops.push({ type: "put", key: SNAPSHOT_POINTER_KEY, value: this.#seal(encodePointer(ref), SNAPSHOT_POINTER_KEY) });
      }
      if (ops.length === 0) return;
      const prev = this.#hardState;
      const hs = rd.hardState;
      const onlyCommitMoved = ops.length === 1 && hs !== null && prev !== null && hs.term === prev.term && hs.vote === prev.vote;
      await this.#db.batch(ops, { sync: !onlyCommitMoved });
      if (hs !== null) this.#hardState = hs;
      this.#snap = ref;
      this.#first = first;
      this.#last = last;
      if (snapshot !== null) await this.#files.prune(ref!.file);
    });
  }

  /**
   * Records a snapshot made locally by the application (file, then synced pointer). Log entries are
   * kept; call {@link compact} to remove them. The index must not be below the stored snapshot's
   * nor beyond the last stored index.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.#serial(async () => {
      const s = snapshot.meta.index;
      const current = this.#snap?.index ?? 0;
      if (s === 0) throw new RaftStorageInvalidSnapshotError("snapshot index must be positive");
      if (s < current) throw new RaftStorageInvalidSnapshotError(`snapshot index ${s} is older than the stored snapshot ${current}`);
      if (s > this.#lastIndex()) {
        throw new RaftStorageInvalidSnapshotError(`snapshot index ${s} is beyond the last stored index ${this.#lastIndex()}`);
      }
      const ref = await this.#files.write(snapshot);
      await this.#db.put(SNAPSHOT_POINTER_KEY, this.#seal(encodePointer(ref), SNAPSHOT_POINTER_KEY), { sync: true });
      this.#snap = ref;
      await this.#files.prune(ref.file);
    });
  }

  /**
   * Deletes the stored entries with index <= `index` (a no-op below firstIndex()). `index` must not
   * exceed the latest snapshot's index, else RaftStorageCompactionError.
   */
  compact(index: number): Promise<void> {
    return this.#serial(async () => {
      const snapIndex = this.#snap?.index ?? 0;
      if (index > snapIndex) {
        throw new RaftStorageCompactionError(`cannot compact to ${index}: the latest snapshot is at index ${snapIndex}`);
      }
      if (this.#last < this.#first || index < this.#first) return;
      const upTo = Math.min(index, this.#last);
      const ops: BatchOp[] = [];
      for (let i = this.#first; i <= upTo; i++) ops.push({ type: "del", key: entryKey(i) });
      await this.#db.batch(ops, { sync: true });
      if (upTo >= this.#last) {
        this.#first = snapIndex + 1;
        this.#last = snapIndex;
      } else {
        this.#first = upTo + 1;
      }
    });
  }

  /** Durably stores (sealed, synced) a small driver record under `name`, replacing any previous. */
  saveMeta(name: string, value: Uint8Array): Promise<void> {
    return this.#serial(() => {
      const key = metaKey(name);
      return this.#db.put(key, this.#seal(value, key), { sync: true });
    });
  }

  /** The driver record `name`, or null when none was saved; throws RaftStorageCorruptionError if damaged. */
  loadMeta(name: string): Promise<Uint8Array | null> {
    return this.#serial(async () => {
      const key = metaKey(name);
      const value = await this.#db.get(key);
      if (value === undefined) return null;
      return plainView(this.#open(value, key, undefined, `metadata record "${name}"`));
    });
  }

  /** Index of the first stored entry; lastIndex() + 1 when no entry is stored. */
  firstIndex(): number {
    return this.#last < this.#first ? this.#lastIndex() + 1 : this.#first;
  }

  /** Index of the last stored entry, or the snapshot index if that is later; 0 when empty. */
  lastIndex(): number {
    return this.#lastIndex();
  }

  /** Index of the latest snapshot; 0 when none. */
  snapshotIndex(): number {
    return this.#snap?.index ?? 0;
  }

  /** Waits for pending operations and closes the database; later calls throw RaftStorageClosedError. */
  close(): Promise<void> {
    const run = this.#tail.then(async () => {
      if (this.#closed) return;
      this.#closed = true;
      await this.#db.close();
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #lastIndex(): number {
    return Math.max(this.#last, this.#snap?.index ?? 0);
  }

  /** Runs `fn` after every earlier operation, failing fast once closed. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(() => {
      if (this.#closed) throw new RaftStorageClosedError(`raft storage at ${this.dir} is closed`);
      return fn();
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #seal(plain: Uint8Array, aad: Uint8Array): Uint8Array {
    return sealRecord(this.#enc, plain, aad);
  }

  #open(value: Uint8Array, aad: Uint8Array, index: number | undefined, what: string): Uint8Array {
    const opened = openRecord(this.#enc, value, aad);
    if (opened.ok) return opened.plain;
    const reason = opened.failure === RecordFailure.Checksum ? "fails its checksum" : "cannot be decrypted";
    throw new RaftStorageCorruptionError(this.dbPath, index, `${what} ${reason}`, { cause: opened.cause });
  }

  async #readHardState(): Promise<HardState> {
    const value = await this.#db.get(HARD_STATE_KEY);
    if (value === undefined) return { ...ZERO_HARD_STATE };
    const plain = this.#open(value, HARD_STATE_KEY, undefined, "hard state");
    try {
      return decodeHardState(plain);
    } catch (err) {
      throw new RaftStorageCorruptionError(this.dbPath, undefined, "hard state cannot be decoded", { cause: err });
    }
  }

  async #readEntries(snapshot: Snapshot | null): Promise<Entry[]> {
    const snapIndex = snapshot?.meta.index ?? 0;
    const it = this.#db.iterator(snapshot ? { gt: entryKey(snapIndex), lt: ENTRY_KEYS_END } : { gte: ENTRY_KEYS_START, lt: ENTRY_KEYS_END });
    const entries: Entry[] = [];
    let expected = snapshot ? snapIndex + 1 : -1;
    let prevTerm = snapshot?.meta.term ?? 0;
    try {
      for (;;) {
        const chunk = await it.nextv(LOAD_CHUNK);
        if (chunk.length === 0) break;
        for (const [key, value] of chunk) {
          const index = entryIndexOfKey(key);
          if (index === null || !Number.isSafeInteger(index)) {
            throw new RaftStorageCorruptionError(this.dbPath, undefined, `malformed entry key ${Buffer.from(key).toString("hex")}`);
          }
          if (expected === -1) expected = index;
          if (index !== expected) {
            throw new RaftStorageCorruptionError(this.dbPath, expected, `entry ${expected} is missing (gap before entry ${index})`);
          }
          const e = this.#decodeEntry(value, key, index);
          if (e.term < prevTerm) {
            throw new RaftStorageCorruptionError(this.dbPath, index, `entry term ${e.term} is below the previous term ${prevTerm}`);
          }
          entries.push(e);
          prevTerm = e.term;
          expected++;
        }
      }
    } finally {
      await it.close();
    }
    return entries;
  }

  #decodeEntry(value: Uint8Array, key: Uint8Array, index: number): Entry {
    const plain = this.#open(value, entryAad(key), index, "entry");
    let e: Entry;
    try {
      e = decodeEntry(plain);
    } catch (err) {
      throw new RaftStorageCorruptionError(this.dbPath, index, "entry cannot be decoded", { cause: err });
    }
    if (e.index !== index) {
      throw new RaftStorageCorruptionError(this.dbPath, index, `entry stored under index ${index} holds index ${e.index}`);
    }
    return e;
  }
}

/** `bytes` as a plain Uint8Array (not a Buffer subclass), without copying. */
function plainView(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws unless `entries` have consecutive positive indexes. */
function checkContiguous(entries: Entry[]): void {
  for (let i = 0; i < entries.length; i++) {
    const idx = entries[i]!.index;
    if (!Number.isSafeInteger(idx) || idx < 1) throw new RaftStorageInvalidAppendError(`invalid entry index ${idx}`);
    if (i > 0 && idx !== entries[i - 1]!.index + 1) {
      throw new RaftStorageInvalidAppendError(`entries are not contiguous: ${entries[i - 1]!.index} then ${idx}`);
    }
  }
}

/** Writes the format record into an empty db, or checks the existing one (version and key). */
async function checkFormat(db: ClassicLevel<Uint8Array, Uint8Array>, dbPath: string, enc: Encryptor): Promise<void> {
  const value = await db.get(FORMAT_KEY);
  if (value === undefined) {
    const any = await db.keys({ limit: 1 }).all();
    if (any.length > 0) throw new RaftStorageCorruptionError(dbPath, undefined, "format record is missing from a non-empty db");
    const record = sealRecord(enc, KEY_CHECK, FORMAT_KEY);
    const out = new Uint8Array(1 + record.length);
    out[0] = FORMAT_VERSION;
    out.set(record, 1);
    await db.put(FORMAT_KEY, out, { sync: true });
    return;
  }
  if (value.length < 1) throw new RaftStorageCorruptionError(dbPath, undefined, "format record is empty");
  if (value[0] !== FORMAT_VERSION) {
    throw new RaftStorageUnsupportedFormatError(`${dbPath} has storage format version ${value[0]}; this build reads ${FORMAT_VERSION}`);
  }
  const opened = openRecord(enc, value.subarray(1), FORMAT_KEY);
  if (!opened.ok && opened.failure === RecordFailure.Checksum) {
    throw new RaftStorageCorruptionError(dbPath, undefined, "format record fails its checksum");
  }
  if (!opened.ok || !Buffer.from(opened.plain).equals(KEY_CHECK)) {
    throw new DecryptionError(`cannot open raft storage at ${dbPath}: wrong key or a different encryptor`, {
      cause: opened.ok ? undefined : opened.cause,
    });
  }
}

async function readPointer(db: ClassicLevel<Uint8Array, Uint8Array>, dbPath: string, enc: Encryptor): Promise<SnapshotFileRef | null> {
  const value = await db.get(SNAPSHOT_POINTER_KEY);
  if (value === undefined) return null;
  const opened = openRecord(enc, value, SNAPSHOT_POINTER_KEY);
  const ref = opened.ok ? decodePointer(opened.plain) : null;
  if (ref === null) {
    throw new RaftStorageCorruptionError(dbPath, undefined, "snapshot pointer is damaged", { cause: opened.ok ? undefined : opened.cause });
  }
  return ref;
}

async function readEntryRange(db: ClassicLevel<Uint8Array, Uint8Array>, dbPath: string): Promise<{ first: number; last: number } | null> {
  const range = { gte: ENTRY_KEYS_START, lt: ENTRY_KEYS_END, limit: 1 };
  const [lo] = await db.keys(range).all();
  const [hi] = await db.keys({ ...range, reverse: true }).all();
  if (lo === undefined || hi === undefined) return null;
  const first = entryIndexOfKey(lo);
  const last = entryIndexOfKey(hi);
  if (first === null || last === null || !Number.isSafeInteger(last)) {
    throw new RaftStorageCorruptionError(dbPath, undefined, "malformed entry key");
  }
  return { first, last };
}
