// Stored value framing: a CRC-32 over aad and sealed bytes, then the Encryptor's sealed bytes.
// The CRC catches damage (and swapped records) even with the IdentityEncryptor; the encryptor adds
// confidentiality and authentication on top.
import { crc32 } from "node:zlib";
import type { Encryptor } from "./encryptor.js";

const CRC_BYTES = 4;

/** Why a stored value could not be opened. */
export const RecordFailure = {
  /** Too short or the checksum does not match: damaged or moved. */
  Checksum: "checksum",
  /** The checksum matched but the encryptor refused it. */
  Decryption: "decryption",
} as const;
/** One of the {@link RecordFailure} values. */
export type RecordFailure = (typeof RecordFailure)[keyof typeof RecordFailure];

/** Result of {@link openRecord}: the plain bytes, or why they could not be had. */
export type OpenedRecord =
  | { ok: true; plain: Uint8Array }
  | { ok: false; failure: RecordFailure; cause?: unknown };

function checksum(aad: Uint8Array, sealed: Uint8Array): number {
  return crc32(sealed, crc32(aad));
}

/** Seals `plain` for storage under `aad`: 4-byte big-endian CRC-32 | sealed bytes. */
export function sealRecord(encryptor: Encryptor, plain: Uint8Array, aad: Uint8Array): Uint8Array {
  const sealed = encryptor.encrypt(plain, aad);
  const out = Buffer.allocUnsafe(CRC_BYTES + sealed.length);
  out.writeUInt32BE(checksum(aad, sealed), 0);
  out.set(sealed, CRC_BYTES);
  return out;
}

/** Opens a value written by {@link sealRecord} under the same `aad`; never throws. */
export function openRecord(encryptor: Encryptor, record: Uint8Array, aad: Uint8Array): OpenedRecord {
  if (record.length < CRC_BYTES) return { ok: false, failure: RecordFailure.Checksum };
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const sealed = record.subarray(CRC_BYTES);
  if (view.getUint32(0) !== checksum(aad, sealed)) return { ok: false, failure: RecordFailure.Checksum };
  try {
    return { ok: true, plain: encryptor.decrypt(sealed, aad) };
  } catch (cause) {
    return { ok: false, failure: RecordFailure.Decryption, cause };
  }
}
