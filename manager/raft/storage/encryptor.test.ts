// Tests of the encryptors: round trips, the sealed format, and every way opening must fail.
import { describe, expect, it } from "vitest";
import { AesGcmEncryptor, IdentityEncryptor } from "./encryptor.js";
import { DecryptionError, InvalidKeyError, RaftStorageErrorCode } from "./errors.js";

const key = (fill: number) => new Uint8Array(32).fill(fill);
const text = (s: string) => new TextEncoder().encode(s);
const aad = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 7);

describe("IdentityEncryptor", () => {
  it("returns its input in both directions", () => {
    const enc = new IdentityEncryptor();
    const plain = text("hello");
    expect(enc.encrypt(plain, aad)).toBe(plain);
    expect(enc.decrypt(plain, aad)).toBe(plain);
  });
});

describe("AesGcmEncryptor", () => {
  it("round-trips and produces version | nonce | ciphertext | tag", () => {
    const enc = new AesGcmEncryptor(key(1));
    const plain = text("a raft entry payload");
    const sealed = enc.encrypt(plain, aad);
    expect(sealed.length).toBe(1 + 12 + plain.length + 16);
    expect(sealed[0]).toBe(1);
    expect(Buffer.from(sealed).includes(Buffer.from(plain))).toBe(false);
    expect(Buffer.from(enc.decrypt(sealed, aad)).toString()).toBe("a raft entry payload");
  });

  it("round-trips an empty plaintext", () => {
    const enc = new AesGcmEncryptor(key(1));
    const sealed = enc.encrypt(new Uint8Array(0), aad);
    expect(sealed.length).toBe(29);
    expect(enc.decrypt(sealed, aad).length).toBe(0);
  });

  it("uses a fresh nonce for every call", () => {
    const enc = new AesGcmEncryptor(key(1));
    const a = Buffer.from(enc.encrypt(text("same"), aad));
    const b = Buffer.from(enc.encrypt(text("same"), aad));
    expect(a.subarray(1, 13).equals(b.subarray(1, 13))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  it("copies the key, so later changes to the caller's array do not matter", () => {
    const k = key(3);
    const enc = new AesGcmEncryptor(k);
    const sealed = enc.encrypt(text("x"), aad);
    k.fill(9);
    expect(Buffer.from(enc.decrypt(sealed, aad)).toString()).toBe("x");
  });

  it("rejects a wrong key with DecryptionError", () => {
    const sealed = new AesGcmEncryptor(key(1)).encrypt(text("secret"), aad);
    const other = new AesGcmEncryptor(key(2));
    expect(() => other.decrypt(sealed, aad)).toThrow(DecryptionError);
    try {
      other.decrypt(sealed, aad);
    } catch (err) {
      expect((err as DecryptionError).code).toBe(RaftStorageErrorCode.Decryption);
      expect((err as Error).message).toMatch(/wrong key or tampered/);
    }
  });

  it.each([
    ["version byte", 0],
    ["nonce", 5],
    ["ciphertext", 13],
    ["tag", -1],
  ])("rejects a tampered %s", (_part, at) => {
    const enc = new AesGcmEncryptor(key(1));
    const sealed = Buffer.from(enc.encrypt(text("tamper me"), aad));
    const pos = at < 0 ? sealed.length + at : at;
    sealed[pos] = sealed[pos]! ^ 0x01;
    expect(() => enc.decrypt(sealed, aad)).toThrow(DecryptionError);
  });

  it("rejects a mismatched aad (a record moved to another index)", () => {
    const enc = new AesGcmEncryptor(key(1));
    const sealed = enc.encrypt(text("entry 7"), aad);
    const otherAad = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 8);
    expect(() => enc.decrypt(sealed, otherAad)).toThrow(DecryptionError);
    expect(Buffer.from(enc.decrypt(sealed, aad)).toString()).toBe("entry 7");
  });

  it("rejects truncated data", () => {
    const enc = new AesGcmEncryptor(key(1));
    const sealed = enc.encrypt(text("abc"), aad);
    expect(() => enc.decrypt(sealed.subarray(0, 28), aad)).toThrow(DecryptionError);
    expect(() => enc.decrypt(sealed.subarray(0, sealed.length - 1), aad)).toThrow(DecryptionError);
  });

  it("checks the key size at construction", () => {
    expect(() => new AesGcmEncryptor(new Uint8Array(16))).toThrow(InvalidKeyError);
    expect(() => new AesGcmEncryptor(new Uint8Array(16))).toThrow(/32-byte key, got 16 bytes/);
    expect(() => new AesGcmEncryptor(new Uint8Array(33))).toThrow(InvalidKeyError);
    expect(new AesGcmEncryptor(new Uint8Array(32))).toBeInstanceOf(AesGcmEncryptor);
  });
});
