// Encryption at rest: the Encryptor interface, a pass-through one, and AES-256-GCM.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { DecryptionError, InvalidKeyError } from "./errors.js";

/**
 * Seals and opens stored records. `aad` (additional authenticated data) binds a record to its place
 * (e.g. its log index) so that records cannot be swapped; it is authenticated, not stored.
 */
export interface Encryptor {
  /** Returns the sealed form of `plain`. */
  encrypt(plain: Uint8Array, aad: Uint8Array): Uint8Array;
  /** Returns the plain form of `sealed`; throws {@link DecryptionError} when it cannot be opened. */
  decrypt(sealed: Uint8Array, aad: Uint8Array): Uint8Array;
}

/** No encryption: both directions return their input unchanged (integrity is checked by the caller). */
export class IdentityEncryptor implements Encryptor {
  /** Returns `plain` itself. */
  encrypt(plain: Uint8Array, _aad: Uint8Array): Uint8Array {
    return plain;
  }

  /** Returns `sealed` itself. */
  decrypt(sealed: Uint8Array, _aad: Uint8Array): Uint8Array {
    return sealed;
  }
}

/** Size of an {@link AesGcmEncryptor} key in bytes. */
export const AES_GCM_KEY_BYTES = 32;
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + NONCE_BYTES;

/**
 * AES-256-GCM with a random 12-byte nonce per call.
 * Sealed format: 1 version byte | 12-byte nonce | ciphertext | 16-byte tag.
 */
export class AesGcmEncryptor implements Encryptor {
  readonly #key: Buffer;

  /** `key` must be exactly 32 bytes; it is copied. */
  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== AES_GCM_KEY_BYTES) {
      const got = key instanceof Uint8Array ? `${key.length} bytes` : typeof key;
      throw new InvalidKeyError(`AES-256-GCM needs a ${AES_GCM_KEY_BYTES}-byte key, got ${got}`);
    }
    this.#key = Buffer.from(key);
  }

  /** Seals `plain`, authenticating `aad`. */
  encrypt(plain: Uint8Array, aad: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const body = cipher.update(plain);
    const tail = cipher.final();
    const out = Buffer.allocUnsafe(HEADER_BYTES + body.length + tail.length + TAG_BYTES);
    out[0] = VERSION;
    nonce.copy(out, 1);
    body.copy(out, HEADER_BYTES);
    tail.copy(out, HEADER_BYTES + body.length);
    cipher.getAuthTag().copy(out, HEADER_BYTES + body.length + tail.length);
    return out;
  }

  /** Opens `sealed`; throws {@link DecryptionError} on a wrong key, wrong `aad` or tampered data. */
  decrypt(sealed: Uint8Array, aad: Uint8Array): Uint8Array {
    if (sealed.length < HEADER_BYTES + TAG_BYTES) {
      throw new DecryptionError(`sealed data too short (${sealed.length} bytes)`);
    }
    if (sealed[0] !== VERSION) {
      throw new DecryptionError(`unknown sealed-data version ${sealed[0]}`);
    }
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const nonce = buf.subarray(1, HEADER_BYTES);
    const tag = buf.subarray(buf.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      const body = decipher.update(buf.subarray(HEADER_BYTES, buf.length - TAG_BYTES));
      const tail = decipher.final();
      return tail.length === 0 ? body : Buffer.concat([body, tail]);
    } catch (err) {
      throw new DecryptionError("cannot decrypt: wrong key or tampered data", { cause: err });
    }
  }
}
