// Reading node certificates: the identity in the subject, verification against the root, the root
// digest carried by join tokens, and when to renew.
import { createHash, X509Certificate as NodeX509Certificate } from "node:crypto";
import { toBase36 } from "./base36.js";
import { InvalidCertificateError } from "./errors.js";
import { firstPemBlock } from "./pem.js";
import { ROLE_CHOICES, isNodeRole } from "./roles.js";
import type { NodeRoleName } from "./roles.js";
import { x509 } from "./x509.js";

/** What a node certificate says about its holder, plus its validity period and serial (lowercase hex). */
export interface NodeCertificateInfo {
  nodeId: string;
  role: NodeRoleName;
  clusterId: string;
  notBefore: Date;
  notAfter: Date;
  serial: string;
}

/** Width of {@link rootDigest}: 256 bits need 50 base-36 digits. */
export const ROOT_DIGEST_LENGTH = 50;

/** The DER of the first CERTIFICATE block of `pem`; throws {@link InvalidCertificateError} naming `what`. */
export function certificateDer(pem: string, what = "certificate"): Buffer {
  const der = typeof pem === "string" ? firstPemBlock(pem, "CERTIFICATE") : null;
  if (der === null) throw new InvalidCertificateError(`invalid ${what}: no PEM CERTIFICATE block found`);
  return der;
}

/** Parses the first certificate of `pem`; throws {@link InvalidCertificateError} naming `what`. */
export function parseCertificate(pem: string, what = "certificate"): x509.X509Certificate {
  const der = certificateDer(pem, what);
  try {
    return new x509.X509Certificate(der);
  } catch (err) {
    throw new InvalidCertificateError(`invalid ${what}: cannot parse: ${(err as Error).message}`, { cause: err });
  }
}

function onlyField(cert: x509.X509Certificate, field: string, meaning: string): string {
  const values = cert.subjectName.getField(field);
  if (values.length !== 1 || values[0] === "") {
    throw new InvalidCertificateError(
      `certificate "${cert.subject}" is not a swarm node certificate: expected one ${field} (${meaning}), got ${values.length}`,
    );
  }
  return values[0]!;
}

/**
 * The identity and validity of a node certificate (the first certificate of `certPem`). Throws
 * {@link InvalidCertificateError} when it cannot be parsed or its subject is not CN=<node ID>,
 * OU=<role>, O=<cluster ID>.
 */
export function parseNodeCertificate(certPem: string): NodeCertificateInfo {
  const cert = parseCertificate(certPem);
  const nodeId = onlyField(cert, "CN", "the node ID");
  const role = onlyField(cert, "OU", "the role");
  const clusterId = onlyField(cert, "O", "the cluster ID");
  if (!isNodeRole(role)) {
    throw new InvalidCertificateError(
      `certificate "${cert.subject}" is not a swarm node certificate: OU must be ${ROLE_CHOICES}, got "${role}"`,
    );
  }
  return {
    nodeId,
    role,
    clusterId,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serial: cert.serialNumber.toLowerCase(),
  };
}

/**
 * The SHA-256 of the root certificate's DER as base 36, left-padded with "0" to 50 characters: the
 * digest part of a join token.
 */
export function rootDigest(rootCertPem: string): string {
  const der = certificateDer(rootCertPem, "root CA certificate");
  return toBase36(createHash("sha256").update(der).digest(), ROOT_DIGEST_LENGTH);
}

/** True when `cert` (DER) carries a valid signature by `root`'s key and names it as issuer. */
export function isSignedBy(certDer: Uint8Array, rootDer: Uint8Array): boolean {
  try {
    const leaf = new NodeX509Certificate(certDer);
    const root = new NodeX509Certificate(rootDer);
    return leaf.checkIssued(root) && leaf.verify(root.publicKey);
  } catch {
    return false;
  }
}

/**
 * Checks that `certPem` is a node certificate signed by `rootCertPem` and valid at `now`. Throws
 * {@link InvalidCertificateError}: "certificate not signed by this cluster's root CA", "certificate
 * expired at <ISO time>" or "certificate not valid before <ISO time>".
 */
export function verifyNodeCertificate(certPem: string, rootCertPem: string, now: Date = new Date()): void {
  const info = parseNodeCertificate(certPem);
  const rootDer = certificateDer(rootCertPem, "root CA certificate");
  if (!isSignedBy(certificateDer(certPem), rootDer)) {
    throw new InvalidCertificateError("certificate not signed by this cluster's root CA");
  }
  if (now.getTime() > info.notAfter.getTime()) {
    throw new InvalidCertificateError(`certificate expired at ${info.notAfter.toISOString()}`);
  }
  if (now.getTime() < info.notBefore.getTime()) {
    throw new InvalidCertificateError(`certificate not valid before ${info.notBefore.toISOString()}`);
  }
}

/** Renewal happens at a random point between these fractions of a certificate's lifetime. */
export const RENEWAL_WINDOW = { from: 0.5, to: 0.8 } as const;

/**
 * Milliseconds from `now` until a random point between 50 % and 80 % of the lifetime
 * [notBefore, notAfter]; 0 when that point has passed or the lifetime is empty. `random` returns a
 * number in [0, 1) (values outside are clamped).
 */
export function renewalDelayMs(notBefore: Date, notAfter: Date, now: Date, random: () => number): number {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  if (!(lifetime > 0)) return 0;
  const r = Math.min(1, Math.max(0, random()));
  const fraction = RENEWAL_WINDOW.from + (RENEWAL_WINDOW.to - RENEWAL_WINDOW.from) * r;
  const at = notBefore.getTime() + lifetime * fraction;
  return Math.max(0, Math.round(at - now.getTime()));
}
