// Tests of RaftDiskStorage: round trips across reopen, truncation, snapshots, compaction, metadata,
// and detection of damaged data, through both the identity and the AES-GCM encryptor.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ClassicLevel } from "classic-level";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EntryType } from "../core/types.js";
import type { Entry, HardState, Snapshot } from "../core/types.js";
import { encodeEntry } from "./codec.js";
import { RaftDiskStorage } from "./disk-storage.js";
import { AesGcmEncryptor, IdentityEncryptor } from "./encryptor.js";
import type { Encryptor } from "./encryptor.js";
import {
  DecryptionError,
  RaftStorageClosedError,
  RaftStorageCompactionError,
  RaftStorageCorruptionError,
  RaftStorageInvalidAppendError,
  RaftStorageInvalidArgumentError,
  RaftStorageInvalidSnapshotError,
} from "./errors.js";
import { HARD_STATE_KEY, entryAad, entryKey } from "./keys.js";
import { sealRecord } from "./record.js";
import { snapshotFileName } from "./snapshot-files.js";

const MARKER = "PLAINTEXT-MARKER-0123456789";

function entry(index: number, term: number, text = `${MARKER} #${index} t${term}`): Entry {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(text) };
}

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

function snapshot(index: number, term: number, data: Uint8Array = Buffer.from(`state@${index}`)): Snapshot {
  return { meta: { index, term, confState: { voters: [1, 2, 3], learners: [] } }, data };
}

const hs = (term: number, vote: number, commit: number): HardState => ({ term, vote, commit });

/** Deterministic pseudo-random bytes (xorshift). */
function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function indexes(es: Entry[]): number[] {
  return es.map((e) => e.index);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
}

/** Runs `fn` on the raw level db of a closed storage. */
async function withRawDb(dir: string, fn: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path.join(dir, "log"), { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  try {
    await fn(db);
  } finally {
    await db.close();
  }
}

const KEY = new Uint8Array(32).fill(0x5a);
const encryptors: Array<[string, () => Encryptor]> = [
  ["identity", () => new IdentityEncryptor()],
  ["aes-gcm", () => new AesGcmEncryptor(KEY)],
];

describe.each(encryptors)("RaftDiskStorage (%s)", (kind, makeEncryptor) => {
  let dir: string;
  let open: RaftDiskStorage[];

  const openStorage = async (): Promise<RaftDiskStorage> => {
    const s = await RaftDiskStorage.open(dir, { encryptor: makeEncryptor() });
    open.push(s);
    return s;
  };
  const reopen = async (s: RaftDiskStorage): Promise<RaftDiskStorage> => {
    await s.close();
    return openStorage();
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "raft-storage-"));
    open = [];
  });
  afterEach(async () => {
    for (const s of open) await s.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("starts empty", async () => {
    const s = await openStorage();
    expect(await s.load()).toEqual({ hardState: hs(0, 0, 0), snapshot: null, entries: [] });
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(0);
    expect(s.snapshotIndex()).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(["log", "snapshots"]);
  });

  it("round-trips hard state and entries across close and reopen", async () => {
    let s = await openStorage();
    await s.save({ hardState: hs(2, 1, 3), entries: entries(1, 3, 1), snapshot: null });
    await s.save({ hardState: hs(2, 1, 5), entries: [entry(4, 2), { ...entry(5, 2), type: EntryType.ConfChange }], snapshot: null });
    expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 5]);
    s = await reopen(s);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 5]);
    const loaded = await s.load();
    expect(loaded.hardState).toEqual(hs(2, 1, 5));
    expect(loaded.snapshot).toBeNull();
    expect(loaded.entries).toEqual([...entries(1, 3, 1), entry(4, 2), { ...entry(5, 2), type: EntryType.ConfChange }]);
  });

  it("saves a hard state alone, and entries alone", async () => {
    let s = await openStorage();
    await s.save({ hardState: null, entries: entries(1, 2, 1), snapshot: null });
    await s.save({ hardState: hs(1, 2, 0), entries: [], snapshot: null });
    s = await reopen(s);
    expect(await s.load()).toEqual({ hardState: hs(1, 2, 0), snapshot: null, entries: entries(1, 2, 1) });
  });

  it("syncs every write but one that only moves the commit index, which is still stored", async () => {
    const batch = vi.spyOn(ClassicLevel.prototype, "batch");
    try {
      let s = await openStorage();
      await s.load();
      const syncs = (): unknown[] => batch.mock.calls.map((c: unknown[]) => (c[1] as { sync?: boolean } | undefined)?.sync);
      batch.mockClear();
      await s.save({ hardState: hs(1, 1, 0), entries: entries(1, 3, 1), snapshot: null }); // entries
      await s.save({ hardState: hs(1, 1, 2), entries: [], snapshot: null }); // the commit index alone
      await s.save({ hardState: hs(2, 0, 2), entries: [], snapshot: null }); // a new term
      await s.save({ hardState: hs(2, 3, 2), entries: [], snapshot: null }); // a vote
      await s.save({ hardState: hs(2, 3, 3), entries: [], snapshot: null });
      expect(syncs()).toEqual([true, false, true, true, false]);
      s = await reopen(s);
      expect((await s.load()).hardState).toEqual(hs(2, 3, 3));
    } finally {
      batch.mockRestore();
    }
  });

  it("does nothing for an empty save", async () => {
    const s = await openStorage();
    await s.save({ hardState: hs(1, 1, 1), entries: [entry(1, 1)], snapshot: null });
    await s.save({ hardState: null, entries: [], snapshot: null });
    await s.save({ hardState: null, entries: [], snapshot: { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) } });
    expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 1]);
    expect(await s.load()).toEqual({ hardState: hs(1, 1, 1), snapshot: null, entries: [entry(1, 1)] });
    expect(await readdir(path.join(dir, "snapshots"))).toEqual([]);
  });

  it("stores values sealed: plaintext appears on disk only without encryption", async () => {
    const s = await openStorage();
    await s.save({ hardState: hs(1, 0, 0), entries: entries(1, 3, 1), snapshot: null });
    await s.close();
    const found: boolean[] = [];
    await withRawDb(dir, async (db) => {
      for await (const [, value] of db.iterator()) found.push(Buffer.from(value).includes(Buffer.from(MARKER)));
    });
    expect(found.filter(Boolean).length).toBe(kind === "identity" ? 3 : 0);
  });

  it("truncates a conflicting suffix with shorter new entries", async () => {
    let s = await openStorage();
    await s.save({ hardState: hs(1, 1, 0), entries: entries(1, 5, 1), snapshot: null });
    await s.save({ hardState: hs(2, 2, 0), entries: [entry(3, 2), entry(4, 2)], snapshot: null });
    expect(s.lastIndex()).toBe(4);
    s = await reopen(s);
    const { entries: got } = await s.load();
    expect(got).toEqual([entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)]);
    expect(s.lastIndex()).toBe(4);
    await s.close();
    await withRawDb(dir, async (db) => {
      expect(await db.get(entryKey(5))).toBeUndefined();
    });
  });

  it("truncates a conflicting suffix with longer new entries, then appends after it", async () => {
    let s = await openStorage();
    await s.save({ hardState: null, entries: entries(1, 5, 1), snapshot: null });
    await s.save({ hardState: null, entries: entries(4, 8, 3), snapshot: null });
    await s.save({ hardState: null, entries: [entry(9, 3)], snapshot: null });
    s = await reopen(s);
    expect((await s.load()).entries).toEqual([...entries(1, 3, 1), ...entries(4, 9, 3)]);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 9]);
  });

  it("replaces the whole log when the new entries start at its first index", async () => {
    let s = await openStorage();
    await s.save({ hardState: null, entries: entries(1, 4, 1), snapshot: null });
    await s.save({ hardState: null, entries: [entry(1, 2)], snapshot: null });
    s = await reopen(s);
    expect((await s.load()).entries).toEqual([entry(1, 2)]);
  });

  it("rejects entries that would leave a gap or are not contiguous, writing nothing", async () => {
    const s = await openStorage();
    await s.save({ hardState: hs(1, 1, 0), entries: entries(1, 3, 1), snapshot: null });
    const gap = await rejection(s.save({ hardState: hs(9, 9, 0), entries: [entry(5, 1)], snapshot: null }));
    expect(gap).toBeInstanceOf(RaftStorageInvalidAppendError);
    expect((gap as Error).message).toMatch(/entry 5 would leave a gap/);
    const holes = await rejection(s.save({ hardState: null, entries: [entry(4, 1), entry(6, 1)], snapshot: null }));
    expect(holes).toBeInstanceOf(RaftStorageInvalidAppendError);
    expect(await s.load()).toEqual({ hardState: hs(1, 1, 0), snapshot: null, entries: entries(1, 3, 1) });
    expect(s.lastIndex()).toBe(3);
  });

  it("serializes saves issued without waiting", async () => {
    let s = await openStorage();
    const pending = [];
    for (let i = 0; i < 50; i++) pending.push(s.save({ hardState: hs(1, 1, i), entries: [entry(i + 1, 1)], snapshot: null }));
    await Promise.all(pending);
    s = await reopen(s);
    const loaded = await s.load();
    expect(loaded.hardState).toEqual(hs(1, 1, 49));
    expect(indexes(loaded.entries)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it("keeps entries on a local snapshot, and compacts them up to the snapshot index", async () => {
    let s = await openStorage();
    await s.save({ hardState: hs(1, 1, 10), entries: entries(1, 10, 1), snapshot: null });
    await s.saveSnapshot(snapshot(6, 1));
    expect([s.firstIndex(), s.lastIndex(), s.snapshotIndex()]).toEqual([1, 10, 6]);
    let loaded = await s.load();
    expect(loaded.snapshot?.meta).toEqual(snapshot(6, 1).meta);
    expect(indexes(loaded.entries)).toEqual([7, 8, 9, 10]);

    const beyond = await rejection(s.compact(7));
    expect(beyond).toBeInstanceOf(RaftStorageCompactionError);
    expect((beyond as Error).message).toMatch(/cannot compact to 7: the latest snapshot is at index 6/);
    await s.compact(4);
    expect(s.firstIndex()).toBe(5);
    await s.compact(2); // below firstIndex: nothing to do
    expect(s.firstIndex()).toBe(5);

    s = await reopen(s);
    expect([s.firstIndex(), s.lastIndex(), s.snapshotIndex()]).toEqual([5, 10, 6]);
    await s.compact(6);
    expect(s.firstIndex()).toBe(7);
    s = await reopen(s);
    expect(s.firstIndex()).toBe(7);
    loaded = await s.load();
    expect(Buffer.from(loaded.snapshot!.data).toString()).toBe("state@6");
    expect(loaded.entries).toEqual(entries(7, 10, 1));
    await s.close();
    await withRawDb(dir, async (db) => {
      for (let i = 1; i <= 6; i++) expect(await db.get(entryKey(i))).toBeUndefined();
      expect(await db.get(entryKey(7))).toBeDefined();
    });
  });

  it("compacts the whole log when the snapshot covers it", async () => {
    let s = await openStorage();
    await s.save({ hardState: hs(1, 1, 5), entries: entries(1, 5, 1), snapshot: null });
    await s.saveSnapshot(snapshot(5, 1));
    await s.compact(5);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([6, 5]);
    await s.save({ hardState: hs(1, 1, 6), entries: [entry(6, 1)], snapshot: null });
    s = await reopen(s);
    const loaded = await s.load();
    expect(loaded.snapshot?.meta.index).toBe(5);
    expect(loaded.entries).toEqual([entry(6, 1)]);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([6, 6]);
  });

  it("installs a snapshot from save: the whole previous log goes, the entries after it stay", async () => {
    let s = await openStorage();
    await s.save({ hardState: hs(1, 1, 3), entries: entries(1, 10, 1), snapshot: null });
    await s.save({ hardState: hs(2, 2, 8), entries: entries(9, 12, 2), snapshot: snapshot(8, 1) });
    expect([s.firstIndex(), s.lastIndex(), s.snapshotIndex()]).toEqual([9, 12, 8]);
    s = await reopen(s);
    expect([s.firstIndex(), s.lastIndex(), s.snapshotIndex()]).toEqual([9, 12, 8]);
    const loaded = await s.load();
    expect(loaded.hardState).toEqual(hs(2, 2, 8));
    expect(loaded.snapshot).toEqual({ meta: snapshot(8, 1).meta, data: expect.anything() });
    expect(Buffer.from(loaded.snapshot!.data).toString()).toBe("state@8");
    expect(loaded.entries).toEqual([entry(9, 2), entry(10, 2), entry(11, 2), entry(12, 2)]);
    await s.close();
    await withRawDb(dir, async (db) => {
      for (let i = 1; i <= 8; i++) expect(await db.get(entryKey(i))).toBeUndefined();
    });
  });

  it("installs a snapshot from save: stored entries above it from another history are dropped", async () => {
    let s = await openStorage();
    await s.save({ hardState: hs(1, 1, 3), entries: entries(1, 10, 1), snapshot: null });
    await s.save({ hardState: hs(4, 0, 6), entries: [], snapshot: snapshot(6, 3) });
    expect([s.firstIndex(), s.lastIndex(), s.snapshotIndex()]).toEqual([7, 6, 6]);
    s = await reopen(s);
    expect((await s.load()).entries).toEqual([]);
    await s.close();
  });

  it("installs a snapshot beyond the log, skipping entries it covers", async () => {
    let s = await openStorage();
    await s.save({ hardState: hs(1, 1, 2), entries: entries(1, 5, 1), snapshot: null });
    await s.save({ hardState: hs(3, 0, 20), entries: [entry(19, 3), entry(20, 3), entry(21, 3), entry(22, 3)], snapshot: snapshot(20, 3) });
    s = await reopen(s);
    const loaded = await s.load();
    expect(loaded.snapshot?.meta.index).toBe(20);
    expect(loaded.entries).toEqual([entry(21, 3), entry(22, 3)]);
    expect([s.firstIndex(), s.lastIndex()]).toEqual([21, 22]);
    const gap = await rejection(s.save({ hardState: null, entries: [entry(24, 3)], snapshot: null }));
    expect(gap).toBeInstanceOf(RaftStorageInvalidAppendError);
  });

  it("requires entries right after an installed snapshot when the log is empty", async () => {
    const s = await openStorage();
    const err = await rejection(s.save({ hardState: null, entries: [entry(12, 2)], snapshot: snapshot(10, 2) }));
    expect(err).toBeInstanceOf(RaftStorageInvalidAppendError);
    expect(await readdir(path.join(dir, "snapshots"))).toEqual([]);
    expect(s.snapshotIndex()).toBe(0);
  });

  it("rejects stale or out-of-range snapshots", async () => {
    const s = await openStorage();
    await s.save({ hardState: null, entries: entries(1, 10, 1), snapshot: null });
    await s.saveSnapshot(snapshot(8, 1));
    expect(await rejection(s.saveSnapshot(snapshot(7, 1)))).toBeInstanceOf(RaftStorageInvalidSnapshotError);
    expect(await rejection(s.saveSnapshot(snapshot(11, 1)))).toBeInstanceOf(RaftStorageInvalidSnapshotError);
    expect(await rejection(s.saveSnapshot(snapshot(0, 0)))).toBeInstanceOf(RaftStorageInvalidSnapshotError);
    expect(await rejection(s.save({ hardState: null, entries: [], snapshot: snapshot(5, 1) }))).toBeInstanceOf(RaftStorageInvalidSnapshotError);
    expect(s.snapshotIndex()).toBe(8);
    expect((await s.load()).snapshot?.meta.index).toBe(8);
  });

  it("keeps only the newest two snapshot files", async () => {
    const s = await openStorage();
    await s.save({ hardState: null, entries: entries(1, 10, 1), snapshot: null });
    for (const i of [2, 4, 6, 8]) await s.saveSnapshot(snapshot(i, 1));
    expect((await readdir(path.join(dir, "snapshots"))).sort()).toEqual([snapshotFileName(1, 6), snapshotFileName(1, 8)]);
    await s.save({ hardState: null, entries: [], snapshot: snapshot(12, 2) });
    expect((await readdir(path.join(dir, "snapshots"))).sort()).toEqual([snapshotFileName(1, 8), snapshotFileName(2, 12)]);
  });

  it("round-trips a 24 MiB snapshot payload", async () => {
    let s = await openStorage();
    const data = pattern(24 * 1024 * 1024, 7);
    await s.save({ hardState: hs(4, 1, 50), entries: [], snapshot: snapshot(50, 4, data) });
    await s.save({ hardState: null, entries: [entry(51, 4)], snapshot: null });
    s = await reopen(s);
    const loaded = await s.load();
    expect(loaded.snapshot!.meta).toEqual(snapshot(50, 4).meta);
    expect(loaded.snapshot!.data.length).toBe(data.length);
    expect(Buffer.isBuffer(loaded.snapshot!.data)).toBe(false);
    expect(Buffer.from(loaded.snapshot!.data).equals(Buffer.from(data))).toBe(true);
    expect(loaded.entries).toEqual([entry(51, 4)]);
  });

  it("reports a flipped byte in the snapshot file, naming the file", async () => {
    let s = await openStorage();
    await s.save({ hardState: hs(1, 1, 5), entries: entries(6, 7, 1), snapshot: snapshot(5, 1) });
    s = await reopen(s);
    const file = path.join(dir, "snapshots", snapshotFileName(1, 5));
    const raw = await readFile(file);
    raw[raw.length - 40] = raw[raw.length - 40]! ^ 0xff;
    await writeFile(file, raw);
    const err = await rejection(s.load());
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as RaftStorageCorruptionError).path).toBe(file);
    expect((err as RaftStorageCorruptionError).index).toBe(5);
    expect((err as Error).message).toContain(file);
  });

  it("reports a deleted snapshot file as corruption", async () => {
    let s = await openStorage();
    await s.save({ hardState: hs(1, 1, 5), entries: [], snapshot: snapshot(5, 1) });
    s = await reopen(s);
    await rm(path.join(dir, "snapshots", snapshotFileName(1, 5)));
    const err = await rejection(s.load());
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as Error).message).toMatch(/cannot be read/);
  });

  it("reports a garbage entry value, naming the db and the index", async () => {
    const s = await openStorage();
    await s.save({ hardState: hs(1, 1, 5), entries: entries(1, 5, 1), snapshot: null });
    await s.close();
    await withRawDb(dir, (db) => db.put(entryKey(3), Buffer.from("garbage garbage garbage garbage garbage")));
    const s2 = await openStorage();
    const err = await rejection(s2.load());
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    const c = err as RaftStorageCorruptionError;
    expect(c.code).toBe("RAFT_STORAGE_CORRUPT");
    expect(c.index).toBe(3);
    expect(c.path).toBe(path.join(dir, "log"));
    expect(c.message).toContain(path.join(dir, "log"));
    expect(c.message).toContain("at index 3");
  });

  it("reports an entry value moved to another index", async () => {
    const s = await openStorage();
    await s.save({ hardState: null, entries: entries(1, 5, 1), snapshot: null });
    await s.close();
    await withRawDb(dir, async (db) => {
      await db.put(entryKey(2), (await db.get(entryKey(4)))!);
    });
    const err = await rejection((await openStorage()).load());
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as RaftStorageCorruptionError).index).toBe(2);
    expect((err as Error).message).toMatch(/checksum/);
  });

  it("reports a well-sealed entry whose index differs from its key", async () => {
    const s = await openStorage();
    await s.save({ hardState: null, entries: entries(1, 5, 1), snapshot: null });
    await s.close();
    await withRawDb(dir, async (db) => {
      const key = entryKey(3);
      await db.put(key, sealRecord(makeEncryptor(), encodeEntry(entry(7, 1)), entryAad(key)));
    });
    const err = await rejection((await openStorage()).load());
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as RaftStorageCorruptionError).index).toBe(3);
    expect((err as Error).message).toMatch(/stored under index 3 holds index 7/);
  });

  it("reports a gap in the stored indexes", async () => {
    const s = await openStorage();
    await s.save({ hardState: hs(1, 1, 2), entries: entries(1, 6, 1), snapshot: null });
    await s.close();
    await withRawDb(dir, (db) => db.del(entryKey(4)));
    const err = await rejection((await openStorage()).load());
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as RaftStorageCorruptionError).index).toBe(4);
    expect((err as Error).message).toMatch(/entry 4 is missing \(gap before entry 5\)/);
  });

  it("reports missing entries right after the snapshot", async () => {
    const s = await openStorage();
    await s.save({ hardState: hs(1, 1, 5), entries: entries(6, 8, 1), snapshot: snapshot(5, 1) });
    await s.close();
    await withRawDb(dir, (db) => db.del(entryKey(6)));
    const err = await rejection((await openStorage()).load());
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as RaftStorageCorruptionError).index).toBe(6);
  });

  it("reports a lost log tail that the hard state's commit still refers to", async () => {
    const s = await openStorage();
    await s.save({ hardState: hs(1, 1, 5), entries: entries(1, 5, 1), snapshot: null });
    await s.close();
    await withRawDb(dir, (db) => db.del(entryKey(5)));
    const err = await rejection((await openStorage()).load());
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as RaftStorageCorruptionError).index).toBe(5);
    expect((err as Error).message).toMatch(/commit 5 is beyond the last stored index 4/);
  });

  it("reports a damaged hard state", async () => {
    const s = await openStorage();
    await s.save({ hardState: hs(1, 1, 0), entries: [], snapshot: null });
    await s.close();
    await withRawDb(dir, (db) => db.put(HARD_STATE_KEY, Buffer.from("nonsense")));
    const err = await rejection((await openStorage()).load());
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as Error).message).toMatch(/hard state/);
  });

  it("stores and loads driver metadata across reopen", async () => {
    let s = await openStorage();
    expect(await s.loadMeta("members")).toBeNull();
    await s.saveMeta("members", Buffer.from(`${MARKER} 1=10.0.0.1:4242`));
    await s.saveMeta("other", Uint8Array.of(1, 2, 3));
    await s.saveMeta("members", Buffer.from("1=10.0.0.2:4242"));
    s = await reopen(s);
    expect(Buffer.from((await s.loadMeta("members"))!).toString()).toBe("1=10.0.0.2:4242");
    expect(await s.loadMeta("other")).toEqual(Uint8Array.of(1, 2, 3));
    expect(await rejection(s.loadMeta(""))).toBeInstanceOf(RaftStorageInvalidArgumentError);
    expect(await rejection(s.saveMeta("x".repeat(257), Uint8Array.of(1)))).toBeInstanceOf(RaftStorageInvalidArgumentError);
    // Metadata never shows up as log entries.
    expect(await s.load()).toEqual({ hardState: hs(0, 0, 0), snapshot: null, entries: [] });
  });

  it("reports damaged metadata", async () => {
    const s = await openStorage();
    await s.saveMeta("members", Uint8Array.of(1, 2, 3));
    await s.close();
    await withRawDb(dir, async (db) => {
      const key = Uint8Array.of(0x6d, ...Buffer.from("members"));
      const value = (await db.get(key))!;
      value[value.length - 1] = value[value.length - 1]! ^ 1;
      await db.put(key, value);
    });
    const err = await rejection((await openStorage()).loadMeta("members"));
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as Error).message).toMatch(/metadata record "members"/);
  });

  it("finishes queued work on close, and refuses work after it", async () => {
    const s = await openStorage();
    const saved = s.save({ hardState: hs(1, 0, 0), entries: [entry(1, 1)], snapshot: null });
    const closed = s.close();
    const late = s.save({ hardState: hs(2, 0, 0), entries: [], snapshot: null });
    await saved;
    await closed;
    expect(await rejection(late)).toBeInstanceOf(RaftStorageClosedError);
    expect(await rejection(s.save({ hardState: hs(1, 0, 0), entries: [], snapshot: null }))).toBeInstanceOf(RaftStorageClosedError);
    expect(await rejection(s.load())).toBeInstanceOf(RaftStorageClosedError);
    await s.close();
    const again = await openStorage();
    expect(await again.load()).toEqual({ hardState: hs(1, 0, 0), snapshot: null, entries: [entry(1, 1)] });
  });
});

describe("RaftDiskStorage encryption keys", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "raft-storage-keys-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses to open with another key or without encryption", async () => {
    const s = await RaftDiskStorage.open(dir, { encryptor: new AesGcmEncryptor(KEY) });
    await s.save({ hardState: hs(1, 1, 1), entries: [entry(1, 1)], snapshot: null });
    await s.close();
    const wrong = await rejection(RaftDiskStorage.open(dir, { encryptor: new AesGcmEncryptor(new Uint8Array(32)) }));
    expect(wrong).toBeInstanceOf(DecryptionError);
    expect((wrong as Error).message).toContain(path.join(dir, "log"));
    expect(await rejection(RaftDiskStorage.open(dir, {}))).toBeInstanceOf(DecryptionError);
    const right = await RaftDiskStorage.open(dir, { encryptor: new AesGcmEncryptor(KEY) });
    expect((await right.load()).entries).toEqual([entry(1, 1)]);
    await right.close();
  });

  it("refuses to open an unencrypted store with a key", async () => {
    const s = await RaftDiskStorage.open(dir, {});
    await s.close();
    expect(await rejection(RaftDiskStorage.open(dir, { encryptor: new AesGcmEncryptor(KEY) }))).toBeInstanceOf(DecryptionError);
  });
});
