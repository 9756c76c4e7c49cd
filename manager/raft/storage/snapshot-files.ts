// Snapshot files in <dir>/snapshots/: naming, the on-disk format, durable writes, verified reads
// and pruning of old files.
//
// File `snap-<term 16 hex>-<index 16 hex>.snap`:
//   magic "RSNP" | version u8 | meta length u32 BE | SnapshotMeta (proto)
//   | sealed payload length u64 BE | sealed payload | SHA-256 of everything before it (32 bytes)
// The payload is sealed with aad = 8-byte BE index followed by the meta bytes, binding it to its
// metadata. Files are written to a temporary name, fsynced, renamed, and the directory fsynced.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import type { Snapshot } from "../core/types.js";
import { decodeSnapshotMeta, encodeSnapshotMeta } from "./codec.js";
import type { Encryptor } from "./encryptor.js";
import { RaftStorageCorruptionError } from "./errors.js";
import { indexBytes } from "./keys.js";

const MAGIC = Buffer.from("RSNP", "ascii");
const VERSION = 1;
const PREFIX_BYTES = MAGIC.length + 1 + 4;
const LENGTH_BYTES = 8;
const SHA256_BYTES = 32;
const NAME_PATTERN = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const TEMP_SUFFIX = ".tmp";

/** How many snapshot files {@link SnapshotFiles.prune} keeps by default. */
export const SNAPSHOT_FILES_KEPT = 2;

/** Where a snapshot lives: its index, term, and file name (relative to the snapshots directory). */
export interface SnapshotFileRef {
  index: number;
  term: number;
  file: string;
}

function hex16(n: number): string {
  return n.toString(16).padStart(16, "0");
}

/** The file name of the snapshot at (`term`, `index`). */
export function snapshotFileName(term: number, index: number): string {
  return `snap-${hex16(term)}-${hex16(index)}.snap`;
}

/** Term and index encoded in a snapshot file name, or null when `name` is not one. */
export function parseSnapshotFileName(name: string): { term: number; index: number } | null {
  const m = NAME_PATTERN.exec(name);
  if (!m) return null;
  const term = parseInt(m[1]!, 16);
  const index = parseInt(m[2]!, 16);
  if (!Number.isSafeInteger(term) || !Number.isSafeInteger(index)) return null;
  return { term, index };
}

function payloadAad(index: number, metaBytes: Uint8Array): Uint8Array {
  const aad = new Uint8Array(8 + metaBytes.length);
  aad.set(indexBytes(index), 0);
  aad.set(metaBytes, 8);
  return aad;
}

async function writeAll(fh: FileHandle, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, null);
    off += bytesWritten;
  }
}

/** Fsyncs a directory so that renames and unlinks in it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The snapshot files of one storage directory, sealed through one Encryptor. */
export class SnapshotFiles {
  /** The snapshots directory. */
  readonly dir: string;
  readonly #encryptor: Encryptor;

  private constructor(dir: string, encryptor: Encryptor) {
    this.dir = dir;
    this.#encryptor = encryptor;
  }

  /** Creates `dir` if needed and removes temporary files left by interrupted writes. */
  static async open(dir: string, encryptor: Encryptor): Promise<SnapshotFiles> {
    await mkdir(dir, { recursive: true });
    const files = new SnapshotFiles(dir, encryptor);
    const temps = (await readdir(dir)).filter((n) => n.endsWith(TEMP_SUFFIX));
    for (const name of temps) await unlinkIfPresent(path.join(dir, name));
    if (temps.length > 0) await fsyncDir(dir);
    return files;
  }

  /** Full path of a snapshot file name. */
  pathOf(file: string): string {
    return path.join(this.dir, file);
  }

  /** Writes `snapshot` durably (temp file, fsync, rename, directory fsync) and returns where it is. */
  async write(snapshot: Snapshot): Promise<SnapshotFileRef> {
    const { index, term } = snapshot.meta;
    const file = snapshotFileName(term, index);
    const metaBytes = encodeSnapshotMeta(snapshot.meta);
    const sealed = this.#encryptor.encrypt(snapshot.data, payloadAad(index, metaBytes));

    const prefix = Buffer.alloc(PREFIX_BYTES);
    MAGIC.copy(prefix, 0);
    prefix.writeUInt8(VERSION, MAGIC.length);
    prefix.writeUInt32BE(metaBytes.length, MAGIC.length + 1);
    const length = Buffer.alloc(LENGTH_BYTES);
    length.writeBigUInt64BE(BigInt(sealed.length));
    const parts = [prefix, metaBytes, length, sealed];
    const hash = createHash("sha256");
    for (const p of parts) hash.update(p);
    parts.push(hash.digest());

    const temp = this.pathOf(`${file}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
    try {
      const fh = await open(temp, "wx");
      try {
        for (const p of parts) await writeAll(fh, p);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(temp, this.pathOf(file));
    } catch (err) {
      await unlinkIfPresent(temp).catch(() => undefined);
      throw err;
    }
    await fsyncDir(this.dir);
    return { index, term, file };
  }

  /**
   * Reads and verifies the snapshot in `file` (magic, version, checksum, name, decryption); when
   * `expect` is given its index and term must match. Any failure throws RaftStorageCorruptionError.
   */
  async read(file: string, expect?: { index: number; term: number }): Promise<Snapshot> {
    const full = this.pathOf(file);
    const named = parseSnapshotFileName(file);
    const at = expect?.index ?? named?.index;
    const corrupt = (reason: string, cause?: unknown): RaftStorageCorruptionError =>
      new RaftStorageCorruptionError(full, at, `snapshot file ${reason}`, cause === undefined ? undefined : { cause });

    if (named === null) throw corrupt("has a malformed name");
    let buf: Buffer;
    try {
      buf = await readFile(full);
    } catch (err) {
      throw corrupt("cannot be read", err);
    }
    if (buf.length < PREFIX_BYTES + LENGTH_BYTES + SHA256_BYTES) throw corrupt(`is truncated (${buf.length} bytes)`);
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt("has a bad magic number");
    const body = buf.subarray(0, buf.length - SHA256_BYTES);
    const digest = createHash("sha256").update(body).digest();
    if (!digest.equals(buf.subarray(buf.length - SHA256_BYTES))) throw corrupt("fails its SHA-256 checksum");
    const version = buf.readUInt8(MAGIC.length);
    if (version !== VERSION) throw corrupt(`has unknown format version ${version}`);

    const metaLen = buf.readUInt32BE(MAGIC.length + 1);
    const metaEnd = PREFIX_BYTES + metaLen;
    if (metaEnd + LENGTH_BYTES > body.length) throw corrupt("has a metadata length beyond its end");
    const metaBytes = buf.subarray(PREFIX_BYTES, metaEnd);
    const sealedLen = buf.readBigUInt64BE(metaEnd);
    const sealedStart = metaEnd + LENGTH_BYTES;
    if (sealedLen !== BigInt(body.length - sealedStart)) throw corrupt("has a payload length that does not match its size");

    let meta;
    try {
      meta = decodeSnapshotMeta(metaBytes);
    } catch (err) {
      throw corrupt("has undecodable metadata", err);
    }
    if (meta.index !== named.index || meta.term !== named.term) {
      throw corrupt(`holds index ${meta.index} term ${meta.term}, which does not match its name`);
    }
    if (expect && (meta.index !== expect.index || meta.term !== expect.term)) {
      throw corrupt(`holds index ${meta.index} term ${meta.term}, expected index ${expect.index} term ${expect.term}`);
    }
    let data: Uint8Array;
    try {
      data = this.#encryptor.decrypt(body.subarray(sealedStart), payloadAad(meta.index, metaBytes));
    } catch (err) {
      throw corrupt("cannot be decrypted", err);
    }
    return { meta, data };
  }

  /** Names of the snapshot files present, newest (highest index, then term) first. */
  async list(): Promise<string[]> {
    const named = [];
    for (const name of await readdir(this.dir)) {
      const p = parseSnapshotFileName(name);
      if (p) named.push({ name, ...p });
    }
    named.sort((a, b) => b.index - a.index || b.term - a.term);
    return named.map((n) => n.name);
  }

  /**
   * Deletes all but the newest `keep` snapshot files, never deleting `protect` (the file the db
   * points at). Returns the names deleted.
   */
  async prune(protect: string | null, keep: number = SNAPSHOT_FILES_KEPT): Promise<string[]> {
    const doomed = (await this.list()).slice(keep).filter((n) => n !== protect);
    for (const name of doomed) await unlinkIfPresent(this.pathOf(name));
    if (doomed.length > 0) await fsyncDir(this.dir);
    return doomed;
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
