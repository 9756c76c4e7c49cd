import { describe, expect, it } from "vitest";
import {
  decryptPem,
  encryptPem,
  formatUnlockKey,
  generateUnlockKey,
  isEncryptedPem,
  isWrappedWithKek,
  parseUnlockKey,
  unwrapKey,
  wrapKey,
} from "./unlock-key.js";

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const KEK = parseUnlockKey(generateUnlockKey());
const OTHER_KEK = parseUnlockKey(generateUnlockKey());
const PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";
const INVALID = "invalid unlock key: expected SWMKEY-1-<43 base64 characters>";

describe("unlock keys", () => {
  it("are SWMKEY-1-<43 characters of unpadded standard base64> of 32 random bytes", () => {
    const a = generateUnlockKey();
    expect(a).toMatch(/^SWMKEY-1-[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(generateUnlockKey());
    expect(parseUnlockKey(a)).toHaveLength(32);
    expect(formatUnlockKey(parseUnlockKey(a))).toBe(a);
  });

  it("format and parse known bytes", () => {
    const ff = Buffer.alloc(32, 0xff);
    expect(formatUnlockKey(ff)).toBe(`SWMKEY-1-${"/".repeat(42)}8`);
    expect(parseUnlockKey(`SWMKEY-1-${"/".repeat(42)}8`)).toEqual(ff);
    expect(parseUnlockKey(`  ${formatUnlockKey(KEY)}\n`)).toEqual(KEY);
  });

  it.each([
    "",
    "SWMKEY-1-",
    `SWMKEY-1-${"A".repeat(42)}`,
    `SWMKEY-1-${"A".repeat(44)}`,
    `SWMKEY-1-${"A".repeat(42)}=`,
    `SWMKEY-1-${"-".repeat(43)}`,
    `SWMKEY-1-${"/".repeat(42)}9`, // the last character's unused bits are set
    `SWMKEY-2-${"A".repeat(43)}`,
    `SWMTKN-1-${"A".repeat(43)}`,
  ])("refuse %j without repeating it", (s) => {
    expect(() => parseUnlockKey(s)).toThrow(
      expect.objectContaining({ name: "InvalidUnlockKeyError", code: "CA_INVALID_UNLOCK_KEY", message: INVALID }),
    );
  });

  it("refuse formatting anything but 32 bytes", () => {
    expect(() => formatUnlockKey(new Uint8Array(31))).toThrow("invalid unlock key: expected 32 bytes, got 31 bytes");
  });
});

describe("wrapKey / unwrapKey", () => {
  it("without a KEK store the key plainly, tagged version 1, no KEK", () => {
    const wrapped = wrapKey(KEY, null);
    expect(wrapped).toEqual(Buffer.concat([Buffer.from([1, 0]), KEY]));
    expect(isWrappedWithKek(wrapped)).toBe(false);
    expect(unwrapKey(wrapped, null)).toEqual(KEY);
    expect(unwrapKey(wrapped, KEK)).toEqual(KEY);
  });

  it("with a KEK encrypt with a fresh nonce: 1 | 1 | nonce(12) | ciphertext | tag(16)", () => {
    const a = wrapKey(KEY, KEK);
    const b = wrapKey(KEY, KEK);
    expect(a).toHaveLength(2 + 12 + 32 + 16);
    expect([a[0], a[1]]).toEqual([1, 1]);
    expect(a.includes(KEY)).toBe(false);
    expect(a.equals(b)).toBe(false);
    expect(isWrappedWithKek(a)).toBe(true);
    expect(unwrapKey(a, KEK)).toEqual(KEY);
    expect(unwrapKey(b, KEK)).toEqual(KEY);
  });

  it("say locked without a KEK, and wrong for another KEK or altered data", () => {
    const wrapped = wrapKey(KEY, KEK);
    expect(() => unwrapKey(wrapped, null)).toThrow(
      expect.objectContaining({
        name: "LockedError",
        code: "CA_LOCKED",
        message: "the key is encrypted with the cluster's unlock key: unlock the node with its unlock key",
      }),
    );
    const wrong = expect.objectContaining({
      name: "WrongUnlockKeyError",
      code: "CA_WRONG_UNLOCK_KEY",
      message: "the unlock key does not match: the encrypted key cannot be decrypted with it (or the data was altered)",
    });
    expect(() => unwrapKey(wrapped, OTHER_KEK)).toThrow(wrong);
    const altered = Buffer.from(wrapped);
    altered[20] ^= 1;
    expect(() => unwrapKey(altered, KEK)).toThrow(wrong);
  });

  it("refuse truncated data, unknown versions and flags, and KEKs of the wrong size", () => {
    expect(() => unwrapKey(new Uint8Array([1]), null)).toThrow("invalid wrapped key: expected at least 2 bytes, got 1 bytes");
    expect(() => unwrapKey(new Uint8Array([2, 0, 5]), null)).toThrow(
      "invalid wrapped key: unknown format version 2 (this build reads 1)",
    );
    expect(() => isWrappedWithKek(new Uint8Array([1, 4]))).toThrow("invalid wrapped key: unknown flags 0x04");
    expect(() => unwrapKey(wrapKey(KEY, KEK).subarray(0, 20), KEK)).toThrow(
      expect.objectContaining({ code: "CA_INVALID_WRAPPED_KEY", message: "invalid wrapped key: 20 bytes is too short for an encrypted key" }),
    );
    expect(() => wrapKey(KEY, new Uint8Array(16))).toThrow("invalid unlock key: expected 32 bytes, got 16 bytes");
    expect(() => unwrapKey(wrapKey(KEY, KEK), new Uint8Array(16))).toThrow("invalid unlock key: expected 32 bytes, got 16 bytes");
  });

  it("work on views into larger buffers", () => {
    const wrapped = wrapKey(KEY, KEK);
    const big = Buffer.concat([Buffer.from("xx"), wrapped, Buffer.from("yy")]);
    expect(unwrapKey(big.subarray(2, 2 + wrapped.length), KEK)).toEqual(KEY);
  });
});

describe("encryptPem / decryptPem", () => {
  it("without a KEK leave the PEM unchanged", () => {
    expect(encryptPem(PEM, null)).toBe(PEM);
    expect(decryptPem(PEM, null)).toBe(PEM);
    expect(decryptPem(PEM, KEK)).toBe(PEM);
    expect(isEncryptedPem(PEM)).toBe(false);
  });

  it("with a KEK write a SWARM ENCRYPTED KEY block that only that KEK opens", () => {
    const text = encryptPem(PEM, KEK);
    expect(text).toMatch(/^-----BEGIN SWARM ENCRYPTED KEY-----\n[A-Za-z0-9+/=\n]+\n-----END SWARM ENCRYPTED KEY-----\n$/);
    expect(text).not.toContain("PRIVATE KEY");
    expect(isEncryptedPem(text)).toBe(true);
    expect(decryptPem(text, KEK)).toBe(PEM);
    expect(() => decryptPem(text, null)).toThrow(expect.objectContaining({ code: "CA_LOCKED" }));
    expect(() => decryptPem(text, OTHER_KEK)).toThrow(expect.objectContaining({ code: "CA_WRONG_UNLOCK_KEY" }));
  });

  it("refuse a damaged encrypted block instead of returning it as a key", () => {
    const text = encryptPem(PEM, KEK).replace("-----END SWARM ENCRYPTED KEY-----\n", "");
    expect(() => decryptPem(text, KEK)).toThrow(
      expect.objectContaining({ code: "CA_INVALID_WRAPPED_KEY", message: "invalid wrapped key: the SWARM ENCRYPTED KEY block is damaged" }),
    );
  });
});
