// Encryption at rest: unlock keys (SWMKEY-1-…), and wrapping of data keys and PEM private keys under
// the key-encryption key (KEK) derived from an unlock key. Without a KEK data is stored plainly but
// still tagged, so that reading it back says whether an unlock key is needed.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { InvalidUnlockKeyError, InvalidWrappedKeyError, LockedError, WrongUnlockKeyError } from "./errors.js";
import { firstPemBlock, toPem } from "./pem.js";

/** Prefix of every unlock key. */
export const UNLOCK_KEY_PREFIX = "SWMKEY-1-";
/** Bytes of an unlock key (and of the KEK derived from it). */
export const UNLOCK_KEY_BYTES = 32;
/** The `subsystem` under which the cluster object stores the managers' unlock key (SwarmKit's). */
export const UNLOCK_KEY_SUBSYSTEM = "swarm-manager";
/** PEM label of a private key encrypted by {@link encryptPem}. */
export const ENCRYPTED_PEM_LABEL = "SWARM ENCRYPTED KEY";

const BASE64_CHARS = 43; // 32 bytes, standard alphabet, no padding
const UNLOCK_KEY = new RegExp(`^SWMKEY-1-([A-Za-z0-9+/]{${BASE64_CHARS}})$`);
const INVALID_UNLOCK_KEY = `invalid unlock key: expected ${UNLOCK_KEY_PREFIX}<${BASE64_CHARS} base64 characters>`;
const HKDF_INFO = "swarm kek";

/** Wrapped format: 1 version byte | 1 flags byte | payload. */
const VERSION = 1;
const FLAG_KEK = 0x01;
const HEADER_BYTES = 2;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** `key` (32 bytes) as an unlock key: SWMKEY-1-<standard base64 without padding>. */
export function formatUnlockKey(key: Uint8Array): string {
  checkKeyBytes(key);
  return `${UNLOCK_KEY_PREFIX}${Buffer.from(key).toString("base64").replace(/=+$/, "")}`;
}

/** A new random unlock key. */
export function generateUnlockKey(): string {
  return formatUnlockKey(randomBytes(UNLOCK_KEY_BYTES));
}

/**
 * The 32 bytes of an unlock key; throws {@link InvalidUnlockKeyError} (which never repeats the
 * text, as it may be a real key with a typo) when `s` is not SWMKEY-1-<43 base64 characters>.
 */
export function parseUnlockKey(s: string): Buffer {
  const m = typeof s === "string" ? UNLOCK_KEY.exec(s.trim()) : null;
  const bytes = m ? Buffer.from(m[1]!, "base64") : null;
  // Re-encoding rejects a non-canonical last character (its 2 unused bits set).
  if (!bytes || bytes.length !== UNLOCK_KEY_BYTES || bytes.toString("base64").slice(0, BASE64_CHARS) !== m![1]) {
    throw new InvalidUnlockKeyError(INVALID_UNLOCK_KEY);
  }
  return bytes;
}

function checkKeyBytes(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== UNLOCK_KEY_BYTES) {
    const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
    throw new InvalidUnlockKeyError(`invalid unlock key: expected ${UNLOCK_KEY_BYTES} bytes, got ${got}`);
  }
}

/** The AES-256 key-encryption key for an unlock key's 32 bytes: HKDF-SHA256, no salt, info "swarm kek". */
function deriveKek(unlockKey: Uint8Array): Buffer {
  checkKeyBytes(unlockKey);
  return Buffer.from(hkdfSync("sha256", unlockKey, Buffer.alloc(0), HKDF_INFO, UNLOCK_KEY_BYTES));
}

/**
 * Wraps `key` for storage. With `kek` (an unlock key's 32 bytes): AES-256-GCM,
 * format `1 | 0x01 | 12-byte nonce | ciphertext | 16-byte tag`, the 2 header bytes authenticated.
 * With null: `1 | 0x00 | key`.
 */
export function wrapKey(key: Uint8Array, kek: Uint8Array | null): Buffer {
  if (kek === null) return Buffer.concat([Buffer.from([VERSION, 0]), key]);
  const header = Buffer.from([VERSION, FLAG_KEK]);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", deriveKek(kek), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(key), cipher.final()]);
  return Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
}

function checkHeader(wrapped: Uint8Array): boolean {
  if (!(wrapped instanceof Uint8Array) || wrapped.length < HEADER_BYTES) {
    const got = wrapped instanceof Uint8Array ? `${wrapped.length} bytes` : typeof wrapped;
    throw new InvalidWrappedKeyError(`invalid wrapped key: expected at least ${HEADER_BYTES} bytes, got ${got}`);
  }
  if (wrapped[0] !== VERSION) {
    throw new InvalidWrappedKeyError(`invalid wrapped key: unknown format version ${wrapped[0]} (this build reads ${VERSION})`);
  }
  if (wrapped[1] !== 0 && wrapped[1] !== FLAG_KEK) {
    throw new InvalidWrappedKeyError(`invalid wrapped key: unknown flags 0x${wrapped[1]!.toString(16).padStart(2, "0")}`);
  }
  return wrapped[1] === FLAG_KEK;
}

/** True when `wrapped` was wrapped with a KEK (so reading it needs the unlock key). */
export function isWrappedWithKek(wrapped: Uint8Array): boolean {
  return checkHeader(wrapped);
}

/**
 * The key that {@link wrapKey} wrapped. Throws {@link LockedError} when it was wrapped with a KEK
 * and `kek` is null, {@link WrongUnlockKeyError} when `kek` does not open it (or it was tampered
 * with), {@link InvalidWrappedKeyError} when it is truncated or of an unknown version. A key
 * stored plainly is returned whatever `kek` is.
 */
export function unwrapKey(wrapped: Uint8Array, kek: Uint8Array | null): Buffer {
  const withKek = checkHeader(wrapped);
  const buf = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
  if (!withKek) return Buffer.from(buf.subarray(HEADER_BYTES));
  if (kek === null) {
    throw new LockedError("the key is encrypted with the cluster's unlock key: unlock the node with its unlock key");
  }
  if (buf.length < HEADER_BYTES + NONCE_BYTES + TAG_BYTES) {
    throw new InvalidWrappedKeyError(`invalid wrapped key: ${buf.length} bytes is too short for an encrypted key`);
  }
  const nonce = buf.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
  const tag = buf.subarray(buf.length - TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", deriveKek(kek), nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(buf.subarray(0, HEADER_BYTES));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(buf.subarray(HEADER_BYTES + NONCE_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
  } catch (err) {
    throw new WrongUnlockKeyError("the encrypted key cannot be decrypted with it (or the data was altered)", { cause: err });
  }
}

/**
 * A private key's PEM for writing to disk: with `kek`, a `-----BEGIN SWARM ENCRYPTED KEY-----` block
 * holding the wrapped PEM text; with null, `pem` unchanged.
 */
export function encryptPem(pem: string, kek: Uint8Array | null): string {
  if (kek === null) return pem;
  return toPem(ENCRYPTED_PEM_LABEL, wrapKey(Buffer.from(pem, "utf8"), kek));
}

/** True when `text` holds a key written by {@link encryptPem} with a KEK. */
export function isEncryptedPem(text: string): boolean {
  return firstPemBlock(text, ENCRYPTED_PEM_LABEL) !== null;
}

/**
 * The PEM that {@link encryptPem} wrote. Plain PEM text is returned unchanged (whatever `kek` is);
 * an encrypted block throws the errors of {@link unwrapKey}, or {@link InvalidWrappedKeyError} when
 * its armour is damaged.
 */
export function decryptPem(text: string, kek: Uint8Array | null): string {
  const wrapped = firstPemBlock(text, ENCRYPTED_PEM_LABEL);
  if (wrapped === null) {
    if (text.includes(`-----BEGIN ${ENCRYPTED_PEM_LABEL}-----`)) {
      throw new InvalidWrappedKeyError(`invalid wrapped key: the ${ENCRYPTED_PEM_LABEL} block is damaged`);
    }
    return text;
  }
  return unwrapKey(wrapped, kek).toString("utf8");
}
