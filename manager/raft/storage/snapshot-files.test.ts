// Tests of snapshot files: naming, round trips (including a 24 MiB payload), corruption detection, pruning.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Snapshot } from "../core/types.js";
import { AesGcmEncryptor, IdentityEncryptor } from "./encryptor.js";
import type { Encryptor } from "./encryptor.js";
import { DecryptionError, RaftStorageCorruptionError } from "./errors.js";
import { SnapshotFiles, parseSnapshotFileName, snapshotFileName } from "./snapshot-files.js";

const MARKER = "PLAINTEXT-MARKER-0123456789";

function snapshot(index: number, term: number, data: Uint8Array = Buffer.from(`${MARKER} state at ${index}`)): Snapshot {
  return { meta: { index, term, confState: { voters: [1, 2, 3], learners: [4] } }, data };
}

/** Deterministic pseudo-random bytes (xorshift), so a large payload is not trivially compressible. */
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

async function expectCorrupt(p: Promise<unknown>, file: string, index: number, reason: RegExp): Promise<RaftStorageCorruptionError> {
  const err = await p.then(
    () => {
      throw new Error("expected a RaftStorageCorruptionError");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RaftStorageCorruptionError);
  const c = err as RaftStorageCorruptionError;
  expect(c.code).toBe("RAFT_STORAGE_CORRUPT");
  expect(c.path).toBe(file);
  expect(c.index).toBe(index);
  expect(c.message).toContain(file);
  expect(c.message).toContain(`index ${index}`);
  expect(c.message).toMatch(reason);
  return c;
}

describe("snapshot file names", () => {
  it("encode term and index as 16 hex digits and parse back", () => {
    expect(snapshotFileName(3, 255)).toBe("snap-0000000000000003-00000000000000ff.snap");
    expect(parseSnapshotFileName("snap-0000000000000003-00000000000000ff.snap")).toEqual({ term: 3, index: 255 });
    expect(parseSnapshotFileName("snap-3-ff.snap")).toBeNull();
    expect(parseSnapshotFileName("snap-0000000000000003-00000000000000ff.snap.abc.tmp")).toBeNull();
  });
});

const encryptors: Array<[string, () => Encryptor]> = [
  ["identity", () => new IdentityEncryptor()],
  ["aes-gcm", () => new AesGcmEncryptor(new Uint8Array(32).fill(7))],
];

describe.each(encryptors)("SnapshotFiles (%s)", (kind, makeEncryptor) => {
  let root: string;
  let dir: string;

  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "raft-snapfiles-"));
    dir = path.join(root, "snapshots");
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("writes a named file and reads the same snapshot back", async () => {
    const files = await SnapshotFiles.open(dir, makeEncryptor());
    const snap = snapshot(42, 5);
    const ref = await files.write(snap);
    expect(ref).toEqual({ index: 42, term: 5, file: "snap-0000000000000005-000000000000002a.snap" });
    expect(await readdir(dir)).toEqual([ref.file]);
    const back = await files.read(ref.file, { index: 42, term: 5 });
    expect(back.meta).toEqual(snap.meta);
    expect(Buffer.from(back.data).toString()).toBe(`${MARKER} state at 42`);
    const raw = await readFile(files.pathOf(ref.file));
    expect(raw.subarray(0, 4).toString("ascii")).toBe("RSNP");
    expect(raw.includes(Buffer.from(MARKER))).toBe(kind === "identity");
  });

  it("round-trips a 24 MiB payload", async () => {
    const files = await SnapshotFiles.open(dir, makeEncryptor());
    const data = pattern(24 * 1024 * 1024 + 17, 99);
    const ref = await files.write(snapshot(1000, 9, data));
    const back = await files.read(ref.file, { index: 1000, term: 9 });
    expect(back.data.length).toBe(data.length);
    expect(Buffer.from(back.data).equals(Buffer.from(data))).toBe(true);
  });

  it("round-trips an empty payload", async () => {
    const files = await SnapshotFiles.open(dir, makeEncryptor());
    const ref = await files.write(snapshot(3, 1, new Uint8Array(0)));
    expect((await files.read(ref.file)).data.length).toBe(0);
  });

  it("detects a flipped byte anywhere in the file, naming the file and index", async () => {
    const files = await SnapshotFiles.open(dir, makeEncryptor());
    const ref = await files.write(snapshot(77, 4, pattern(4096, 5)));
    const full = files.pathOf(ref.file);
    const original = await readFile(full);
    for (const pos of [0, 6, 20, original.length - 100, original.length - 1]) {
      const bad = Buffer.from(original);
      bad[pos] = bad[pos]! ^ 0x40;
      await writeFile(full, bad);
      await expectCorrupt(files.read(ref.file, { index: 77, term: 4 }), full, 77, /snapshot file/);
    }
    await writeFile(full, original);
    expect((await files.read(ref.file)).meta.index).toBe(77);
  });

  it("detects a truncated file", async () => {
    const files = await SnapshotFiles.open(dir, makeEncryptor());
    const ref = await files.write(snapshot(8, 2));
    const full = files.pathOf(ref.file);
    const original = await readFile(full);
    await writeFile(full, original.subarray(0, original.length - 1));
    await expectCorrupt(files.read(ref.file), full, 8, /checksum/);
    await writeFile(full, original.subarray(0, 10));
    await expectCorrupt(files.read(ref.file), full, 8, /truncated/);
  });

  it("reports a missing file and a mismatched expectation as corruption", async () => {
    const files = await SnapshotFiles.open(dir, makeEncryptor());
    const ref = await files.write(snapshot(8, 2));
    await expectCorrupt(files.read(ref.file, { index: 8, term: 3 }), files.pathOf(ref.file), 8, /expected index 8 term 3/);
    const missing = snapshotFileName(2, 9);
    await expectCorrupt(files.read(missing), files.pathOf(missing), 9, /cannot be read/);
  });

  it("detects a file renamed to another snapshot's name", async () => {
    const files = await SnapshotFiles.open(dir, makeEncryptor());
    const ref = await files.write(snapshot(8, 2));
    const other = snapshotFileName(2, 10);
    await writeFile(files.pathOf(other), await readFile(files.pathOf(ref.file)));
    await expectCorrupt(files.read(other), files.pathOf(other), 10, /does not match its name/);
  });

  it("keeps the newest two files, and never the protected one", async () => {
    const files = await SnapshotFiles.open(dir, makeEncryptor());
    const refs = [];
    for (const [i, t] of [
      [10, 1],
      [20, 1],
      [30, 2],
      [40, 2],
    ] as const) {
      refs.push(await files.write(snapshot(i, t)));
    }
    expect(await files.prune(refs[0]!.file)).toEqual([refs[1]!.file]);
    expect((await readdir(dir)).sort()).toEqual([refs[0]!.file, refs[2]!.file, refs[3]!.file].sort());
    expect(await files.prune(refs[3]!.file)).toEqual([refs[0]!.file]);
    expect(await files.list()).toEqual([refs[3]!.file, refs[2]!.file]);
  });

  it("removes leftover temporary files when opened", async () => {
    const files = await SnapshotFiles.open(dir, makeEncryptor());
    const ref = await files.write(snapshot(5, 1));
    await writeFile(path.join(dir, `${snapshotFileName(1, 6)}.abcdef.tmp`), "partial");
    await SnapshotFiles.open(dir, makeEncryptor());
    expect(await readdir(dir)).toEqual([ref.file]);
  });
});

describe("SnapshotFiles with AES-GCM", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "raft-snapfiles-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("refuses a file sealed with another key, as corruption caused by DecryptionError", async () => {
    const writer = await SnapshotFiles.open(root, new AesGcmEncryptor(new Uint8Array(32).fill(1)));
    const ref = await writer.write(snapshot(12, 3));
    const reader = await SnapshotFiles.open(root, new AesGcmEncryptor(new Uint8Array(32).fill(2)));
    const err = await expectCorrupt(reader.read(ref.file), reader.pathOf(ref.file), 12, /cannot be decrypted/);
    expect(err.cause).toBeInstanceOf(DecryptionError);
  });
});
