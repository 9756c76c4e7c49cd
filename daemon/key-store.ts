// The node's keys on disk (`certificates/` in the data directory, files mode 0600): the root CA
// certificate, the node certificate and its private key, and — on managers — the Raft data key
// (DEK) that encrypts the Raft log and snapshots. The private key and the DEK are stored wrapped by
// the key-encryption key (KEK): none without autolock, the unlock key with it, so a locked
// manager's disk reveals neither.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { decryptPem, encryptPem, isWrappedWithKek, unwrapKey, wrapKey } from "../manager/ca/index.js";

export interface NodeKeys {
  rootCertPem: string;
  certPem: string;
  keyPem: string;
}

const ROOT = "swarm-root-ca.crt";
const CERT = "swarm-node.crt";
const KEY = "swarm-node.key";
const DEK = "raft-dek";

export class KeyStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = path.join(dataDir, "certificates");
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  private write(name: string, data: string | Uint8Array): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const f = this.file(name);
    writeFileSync(`${f}.tmp`, data, { mode: 0o600 });
    chmodSync(`${f}.tmp`, 0o600);
    renameSync(`${f}.tmp`, f);
  }

  /** Whether opening the keys needs the unlock key. */
  needsKek(): boolean {
    const dek = this.file(DEK);
    return existsSync(dek) && isWrappedWithKek(readFileSync(dek));
  }

  /** Saves the certificates and the private key (wrapped by `kek`). */
  saveKeys(keys: NodeKeys, kek: Uint8Array | null): void {
    this.write(ROOT, keys.rootCertPem);
    this.write(CERT, keys.certPem);
    this.write(KEY, encryptPem(keys.keyPem, kek));
  }

  /** Reads the certificates and the private key; throws the CA's LockedError/WrongUnlockKeyError when `kek` is missing or wrong. */
  loadKeys(kek: Uint8Array | null): NodeKeys {
    return {
      rootCertPem: readFileSync(this.file(ROOT), "utf8"),
      certPem: readFileSync(this.file(CERT), "utf8"),
      keyPem: decryptPem(readFileSync(this.file(KEY), "utf8"), kek),
    };
  }

  /** The Raft data key, made on first use. */
  dek(kek: Uint8Array | null): Buffer {
    const f = this.file(DEK);
    if (!existsSync(f)) {
      const key = randomBytes(32);
      this.write(DEK, wrapKey(key, kek));
      return key;
    }
    return unwrapKey(readFileSync(f), kek);
  }

  /** Re-wraps the private key and the DEK from `oldKek` to `newKek` (autolock turned on, off, or key rotated). */
  rewrap(oldKek: Uint8Array | null, newKek: Uint8Array | null): void {
    const keyText = readFileSync(this.file(KEY), "utf8");
    this.write(KEY, encryptPem(decryptPem(keyText, oldKek), newKek));
    const f = this.file(DEK);
    if (existsSync(f)) this.write(DEK, wrapKey(unwrapKey(readFileSync(f), oldKek), newKek));
  }

  /** Forgets the DEK (a demoted manager drops its Raft state). */
  removeDek(): void {
    rmSync(this.file(DEK), { force: true });
  }

  removeAll(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
