// Node and CA key pairs: ECDSA P-256 generation, PKCS#8 PEM export, import for signing, and matching.
import { createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { InvalidPrivateKeyError } from "./errors.js";
import { toPem } from "./pem.js";

/** The key algorithm of every swarm key: ECDSA on P-256 (OpenSSL's name for the curve: prime256v1). */
export const EC_KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
/** The signature algorithm of every swarm certificate and CSR. */
export const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;

/** A fresh ECDSA P-256 key pair whose private half can be exported. */
export async function generateKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ["sign", "verify"]);
}

/** The private key as a PKCS#8 PEM block (`-----BEGIN PRIVATE KEY-----`). */
export async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return toPem("PRIVATE KEY", new Uint8Array(await webcrypto.subtle.exportKey("pkcs8", key)));
}

/**
 * Parses an ECDSA P-256 private key from PEM (PKCS#8 or SEC1). Throws {@link InvalidPrivateKeyError}
 * naming `what` (e.g. "root CA key") when it is not one.
 */
export function parsePrivateKey(pem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new InvalidPrivateKeyError(`invalid ${what}: not a PEM private key`, { cause: err });
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== "ec" || curve !== "prime256v1") {
    const got = key.asymmetricKeyType === "ec" ? `EC ${curve}` : String(key.asymmetricKeyType);
    throw new InvalidPrivateKeyError(`invalid ${what}: expected an ECDSA P-256 key, got ${got}`);
  }
  return key;
}

/** The WebCrypto signing key for a PEM private key; see {@link parsePrivateKey} for the checks. */
export async function importSigningKey(pem: string, what: string): Promise<webcrypto.CryptoKey> {
  const der = parsePrivateKey(pem, what).export({ type: "pkcs8", format: "der" });
  return webcrypto.subtle.importKey("pkcs8", der, EC_KEY_ALGORITHM, false, ["sign"]);
}

/** The DER SubjectPublicKeyInfo of the public half of a PEM private key. */
export function publicKeyDer(pem: string, what: string): Buffer {
  return createPublicKey(parsePrivateKey(pem, what)).export({ type: "spki", format: "der" });
}
