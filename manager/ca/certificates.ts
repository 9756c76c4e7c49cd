// Issuing: the root CA, a node's key and CSR, node certificates signed by the root, and key matching.
// Reading certificates lives in node-certificate.ts and is re-exported here.
import { randomBytes } from "node:crypto";
import { CaInvalidArgumentError, InvalidCsrError, InvalidPrivateKeyError } from "./errors.js";
import { SIGNING_ALGORITHM, generateKeyPair, importSigningKey, privateKeyPem, publicKeyDer } from "./keys.js";
import { parseCertificate } from "./node-certificate.js";
import { firstPemBlock, toPem } from "./pem.js";
import { NodeRole, ROLE_CHOICES, isNodeRole } from "./roles.js";
import type { NodeRoleName } from "./roles.js";
import { x509 } from "./x509.js";

export type { NodeRoleName } from "./roles.js";
export {
  parseNodeCertificate,
  renewalDelayMs,
  rootDigest,
  verifyNodeCertificate,
  type NodeCertificateInfo,
} from "./node-certificate.js";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Default lifetime of a root CA: 20 years (SwarmKit's). */
export const ROOT_CA_VALIDITY_DAYS = 20 * 365;
/** Default lifetime of a node certificate: 90 days (SwarmKit's). */
export const NODE_CERT_VALIDITY_MS = 90 * DAY_MS;
/** Certificates start this long before they are issued, so that nodes whose clocks lag accept them. */
export const CLOCK_SKEW_MS = 60 * 1000;
/** Subject common name of the root CA, also a SAN of every manager certificate. */
export const ROOT_CA_NAME = "swarm-ca";
const SERIAL_BYTES = 16;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

/** A PEM certificate with its PKCS#8 PEM private key. */
export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

/** A random positive serial number, as hex (top bit clear, first byte non-zero: a minimal DER INTEGER). */
function randomSerial(): string {
  const bytes = randomBytes(SERIAL_BYTES);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString("hex");
}

function checkId(value: unknown, what: string): string {
  if (typeof value !== "string" || !ID_PATTERN.test(value)) {
    throw new CaInvalidArgumentError(
      `invalid ${what} ${JSON.stringify(value)}: expected 1-63 letters, digits or hyphens, not starting with a hyphen`,
    );
  }
  return value;
}

function checkPositive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new CaInvalidArgumentError(`invalid ${what} ${value}: expected a positive number`);
  }
  return value;
}

/**
 * A new self-signed root CA: ECDSA P-256, subject CN=swarm-ca, CA basic constraints and
 * keyCertSign|cRLSign key usage (both critical), a subject key identifier. Valid from `now` minus one
 * minute for `validityDays` (default 20 years).
 */
export async function createRootCA(opts: { now?: Date; validityDays?: number } = {}): Promise<CertificateAndKey> {
  const now = opts.now ?? new Date();
  const days = checkPositive(opts.validityDays ?? ROOT_CA_VALIDITY_DAYS, "root CA validity (days)");
  const keys = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [ROOT_CA_NAME] }],
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: toPem("CERTIFICATE", new Uint8Array(cert.rawData)), keyPem: await privateKeyPem(keys.privateKey) };
}

/**
 * A fresh node key (ECDSA P-256, PKCS#8 PEM) and a CSR signed with it. The CSR's subject is a
 * placeholder (CN=pending): the CA chooses the real one.
 */
export async function createKeyAndCsr(): Promise<{ keyPem: string; csrPem: string }> {
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: "CN=pending",
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
  });
  return {
    keyPem: await privateKeyPem(keys.privateKey),
    csrPem: toPem("CERTIFICATE REQUEST", new Uint8Array(csr.rawData)),
  };
}

/** Parses `csrPem` and checks its self-signature; throws {@link InvalidCsrError}. */
async function verifiedCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  const der = typeof csrPem === "string" ? firstPemBlock(csrPem, "CERTIFICATE REQUEST") : null;
  if (der === null) throw new InvalidCsrError("no PEM CERTIFICATE REQUEST block found");
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch (err) {
    throw new InvalidCsrError(`cannot parse: ${(err as Error).message}`, { cause: err });
  }
  let valid: boolean;
  try {
    valid = await csr.verify();
  } catch (err) {
    throw new InvalidCsrError(`cannot verify its signature: ${(err as Error).message}`, { cause: err });
  }
  if (!valid) throw new InvalidCsrError("its signature does not match its public key");
  return csr;
}

/** DNS names of a node certificate: the node ID, plus swarm-manager and swarm-ca (managers) or swarm-worker. */
function subjectAltNames(nodeId: string, role: NodeRoleName): string[] {
  return role === NodeRole.Manager ? [nodeId, NodeRole.Manager, ROOT_CA_NAME] : [nodeId, NodeRole.Worker];
}

/**
 * Issues a node certificate for the key of `csrPem`, signed by the root. Subject CN=<nodeId>,
 * OU=<role>, O=<clusterId>; DNS SANs per role; EKU serverAuth+clientAuth; key usage
 * digitalSignature|keyEncipherment; AKI/SKI; a random positive serial; valid from `now` minus one
 * minute for `validityMs` (default 90 days). Throws {@link InvalidCsrError} for a CSR that does not
 * parse or verify, {@link CaInvalidArgumentError} for bad IDs or role, and
 * {@link InvalidPrivateKeyError} when the root key is not the root certificate's.
 */
export async function signNodeCertificate(opts: {
  rootCertPem: string;
  rootKeyPem: string;
  csrPem: string;
  nodeId: string;
  role: NodeRoleName;
  clusterId: string;
  now?: Date;
  validityMs?: number;
}): Promise<string> {
  const nodeId = checkId(opts.nodeId, "node ID");
  const clusterId = checkId(opts.clusterId, "cluster ID");
  if (!isNodeRole(opts.role)) {
    throw new CaInvalidArgumentError(`invalid role ${JSON.stringify(opts.role)}: expected ${ROLE_CHOICES}`);
  }
  const validityMs = checkPositive(opts.validityMs ?? NODE_CERT_VALIDITY_MS, "certificate validity (ms)");
  const now = opts.now ?? new Date();
  const csr = await verifiedCsr(opts.csrPem);
  const root = parseCertificate(opts.rootCertPem, "root CA certificate");
  if (!publicKeyDer(opts.rootKeyPem, "root CA key").equals(Buffer.from(root.publicKey.rawData))) {
    throw new InvalidPrivateKeyError("the root CA key does not belong to the root CA certificate");
  }
  const signingKey = await importSigningKey(opts.rootKeyPem, "root CA key");
  const rootSki = root.getExtension(x509.SubjectKeyIdentifierExtension);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [nodeId] }, { OU: [opts.role] }, { O: [clusterId] }],
    issuer: root.subjectName,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + validityMs),
    publicKey: csr.publicKey,
    signingKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(subjectAltNames(nodeId, opts.role).map((value) => ({ type: "dns", value }))),
      rootSki ? new x509.AuthorityKeyIdentifierExtension(rootSki.keyId) : await x509.AuthorityKeyIdentifierExtension.create(root.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
    ],
  });
  return toPem("CERTIFICATE", new Uint8Array(cert.rawData));
}

/**
 * True when `keyPem` is the private key of the (first) certificate of `certPem`. Throws
 * {@link InvalidCertificateError} / {@link InvalidPrivateKeyError} when either does not parse.
 */
export async function certificateKeyMatches(certPem: string, keyPem: string): Promise<boolean> {
  const cert = parseCertificate(certPem);
  return publicKeyDer(keyPem, "private key").equals(Buffer.from(cert.publicKey.rawData));
}
