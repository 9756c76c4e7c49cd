// The level key layout: one-byte prefixes, big-endian index encoding, and each record's aad.
//
//   'e' + 8-byte BE index  log entry          aad: the 8-byte index
//   'h'                    hard state         aad: the key
//   's'                    snapshot pointer   aad: the key
//   'm' + utf8 name        driver metadata    aad: the key
//   'v'                    format record      aad: the key
//
// Indexes are below 2^53, so an index's first byte is 0: entry aads never equal another record's.
import { RaftStorageInvalidArgumentError } from "./errors.js";

/** Key prefixes (one byte each). */
export const KeyPrefix = {
  Entry: 0x65,
  HardState: 0x68,
  SnapshotPointer: 0x73,
  Meta: 0x6d,
  Format: 0x76,
} as const;

/** Length of an entry key: prefix plus 8-byte index. */
export const ENTRY_KEY_BYTES = 9;
/** Longest accepted metadata name, in UTF-8 bytes. */
export const MAX_META_NAME_BYTES = 256;

const TWO_32 = 2 ** 32;

/** Writes `index` as 8 big-endian bytes into `out` at `offset`. */
function writeIndex(out: Uint8Array, offset: number, index: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(offset, Math.floor(index / TWO_32));
  view.setUint32(offset + 4, index >>> 0);
}

/** 8 big-endian bytes of a log index (a safe non-negative integer). */
export function indexBytes(index: number): Uint8Array {
  const out = new Uint8Array(8);
  writeIndex(out, 0, index);
  return out;
}

/** Reads 8 big-endian bytes at `offset` as an index (may exceed 2^53 on garbage; callers check). */
export function readIndex(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(offset) * TWO_32 + view.getUint32(offset + 4);
}

/** Key of the entry at `index`. */
export function entryKey(index: number): Uint8Array {
  const out = new Uint8Array(ENTRY_KEY_BYTES);
  out[0] = KeyPrefix.Entry;
  writeIndex(out, 1, index);
  return out;
}

/** The aad of an entry record: the key's 8 index bytes (a view, no copy). */
export function entryAad(key: Uint8Array): Uint8Array {
  return key.subarray(1);
}

/** Index encoded in an entry key, or null when `key` is not a well-formed entry key. */
export function entryIndexOfKey(key: Uint8Array): number | null {
  if (key.length !== ENTRY_KEY_BYTES || key[0] !== KeyPrefix.Entry) return null;
  return readIndex(key, 1);
}

/** Lower bound (inclusive) of all entry keys. */
export const ENTRY_KEYS_START: Uint8Array = Uint8Array.of(KeyPrefix.Entry);
/** Upper bound (exclusive) of all entry keys. */
export const ENTRY_KEYS_END: Uint8Array = Uint8Array.of(KeyPrefix.Entry + 1);

/** Key of the hard state record. */
export const HARD_STATE_KEY: Uint8Array = Uint8Array.of(KeyPrefix.HardState);
/** Key of the latest-snapshot pointer record. */
export const SNAPSHOT_POINTER_KEY: Uint8Array = Uint8Array.of(KeyPrefix.SnapshotPointer);
/** Key of the format record (format version and key check). */
export const FORMAT_KEY: Uint8Array = Uint8Array.of(KeyPrefix.Format);

/** Key of the metadata record `name`; throws on an empty or over-long name. */
export function metaKey(name: string): Uint8Array {
  const utf8 = Buffer.from(name, "utf8");
  if (utf8.length === 0 || utf8.length > MAX_META_NAME_BYTES) {
    throw new RaftStorageInvalidArgumentError(`metadata name must be 1 to ${MAX_META_NAME_BYTES} UTF-8 bytes, got ${utf8.length}`);
  }
  const out = new Uint8Array(1 + utf8.length);
  out[0] = KeyPrefix.Meta;
  out.set(utf8, 1);
  return out;
}
