import { X509Certificate } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  certificateKeyMatches,
  createKeyAndCsr,
  createRootCA,
  parseNodeCertificate,
  renewalDelayMs,
  rootDigest,
  signNodeCertificate,
  verifyNodeCertificate,
} from "./certificates.js";
import type { CertificateAndKey } from "./certificates.js";
import { firstPemBlock, toPem } from "./pem.js";
import { x509 } from "./x509.js";

const NOW = new Date("2030-01-01T00:00:00.000Z");
const DAY = 24 * 3600 * 1000;

// Made with `openssl req -x509 -newkey ec …`; its digest was computed with Python (sha256 → base 36).
const FIXTURE_ROOT = `-----BEGIN CERTIFICATE-----
MIIBejCCASGgAwIBAgIUfgkMRiY5nLf9YUBBkf9Q3xEZPjIwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIc3dhcm0tY2EwHhcNMjYxMTI0MTE1OTE4WhcNMjYxMTI1MTE1
OTE4WjATMREwDwYDVQQDDAhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABI46TOINnLGSx7OCfKw4rGpODUaJrfDT+9yWH4QkWGwslu3GlSfqXNnVMeBq
jyE3k5Ce92Qhu2BqdPFF9UW4UcSjUzBRMB0GA1UdDgQWBBS2b5Che7wNBtTKn6Vf
x2lfnAZyljAfBgNVHSMEGDAWgBS2b5Che7wNBtTKn6Vfx2lfnAZyljAPBgNVHRMB
Af8EBTADAQH/MAoGCCqGSM49BAMCA0cAMEQCIE/s8KyJurX1ssyhzATo/APtZJdz
qZLwulXNRXFpFoyQAiAyIa6i54bQeIkVHy4G5ZrwNzgg80ef6LaD2NOOonLxtA==
-----END CERTIFICATE-----
`;
const FIXTURE_DIGEST = "2q6aoifv6jrosxssciuukxlpa8i3szl9ru2fqjsv5m1ryfc5wi";

function peculiar(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(firstPemBlock(pem, "CERTIFICATE")!);
}

function tamperLastByte(csrPem: string): string {
  const der = Buffer.from(firstPemBlock(csrPem, "CERTIFICATE REQUEST")!);
  der[der.length - 1] ^= 0x01;
  return toPem("CERTIFICATE REQUEST", der);
}

describe("createRootCA", () => {
  let root: CertificateAndKey;
  beforeAll(async () => {
    root = await createRootCA({ now: NOW });
  });

  it("is a self-signed ECDSA P-256 CA named swarm-ca, valid 20 years from a minute ago", () => {
    const cert = new X509Certificate(root.certPem);
    expect(cert.subject).toBe("CN=swarm-ca");
    expect(cert.issuer).toBe("CN=swarm-ca");
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const p = peculiar(root.certPem);
    expect(p.notBefore.toISOString()).toBe("2029-12-31T23:59:00.000Z");
    expect(p.notAfter.getTime()).toBe(NOW.getTime() + 20 * 365 * DAY);
    expect(root.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("has critical CA basic constraints, critical keyCertSign|cRLSign usage and a subject key identifier", () => {
    const p = peculiar(root.certPem);
    const bc = p.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.critical]).toEqual([true, true]);
    const ku = p.getExtension(x509.KeyUsagesExtension)!;
    expect([ku.usages, ku.critical]).toEqual([x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true]);
    expect(p.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).toMatch(/^[0-9a-f]{40}$/);
  });

  it("takes a validity in days and refuses a non-positive one", async () => {
    const short = await createRootCA({ now: NOW, validityDays: 3 });
    expect(peculiar(short.certPem).notAfter.getTime()).toBe(NOW.getTime() + 3 * DAY);
    await expect(createRootCA({ validityDays: 0 })).rejects.toThrow(
      "invalid root CA validity (days) 0: expected a positive number",
    );
  });

  it("matches its own key and not another's", async () => {
    const other = await createRootCA();
    expect(await certificateKeyMatches(root.certPem, root.keyPem)).toBe(true);
    expect(await certificateKeyMatches(root.certPem, other.keyPem)).toBe(false);
    await expect(certificateKeyMatches(root.certPem, "not a key")).rejects.toMatchObject({
      code: "CA_INVALID_PRIVATE_KEY",
      message: "invalid private key: not a PEM private key",
    });
  });
});

describe("signNodeCertificate", () => {
  let root: CertificateAndKey;
  let otherRoot: CertificateAndKey;
  let node: { keyPem: string; csrPem: string };
  const issue = (over: Partial<Parameters<typeof signNodeCertificate>[0]> = {}) =>
    signNodeCertificate({
      rootCertPem: root.certPem,
      rootKeyPem: root.keyPem,
      csrPem: node.csrPem,
      nodeId: "node-1",
      role: "swarm-manager",
      clusterId: "cluster-a",
      now: NOW,
      ...over,
    });

  beforeAll(async () => {
    [root, otherRoot, node] = await Promise.all([createRootCA({ now: NOW }), createRootCA({ now: NOW }), createKeyAndCsr()]);
  });

  it("makes a CSR with a placeholder subject, signed by the new key", async () => {
    const csr = new x509.Pkcs10CertificateRequest(firstPemBlock(node.csrPem, "CERTIFICATE REQUEST")!);
    expect(csr.subject).toBe("CN=pending");
    expect(await csr.verify()).toBe(true);
    expect(node.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("issues CN=<node>, OU=<role>, O=<cluster> for the CSR's key, signed by the root", async () => {
    const pem = await issue();
    const cert = new X509Certificate(pem);
    expect(cert.subject.split("\n")).toEqual(["CN=node-1", "OU=swarm-manager", "O=cluster-a"]);
    expect(cert.checkIssued(new X509Certificate(root.certPem))).toBe(true);
    expect(cert.verify(new X509Certificate(root.certPem).publicKey)).toBe(true);
    expect(cert.verify(new X509Certificate(otherRoot.certPem).publicKey)).toBe(false);
    expect(cert.ca).toBe(false);
    expect(await certificateKeyMatches(pem, node.keyPem)).toBe(true);
  });

  it("gives managers the SANs swarm-manager and swarm-ca, workers swarm-worker", async () => {
    const manager = new X509Certificate(await issue());
    const worker = new X509Certificate(await issue({ nodeId: "node-2", role: "swarm-worker" }));
    expect(manager.subjectAltName).toBe("DNS:node-1, DNS:swarm-manager, DNS:swarm-ca");
    expect(worker.subjectAltName).toBe("DNS:node-2, DNS:swarm-worker");
  });

  it("sets EKU serverAuth+clientAuth, key usage digitalSignature|keyEncipherment, AKI = root SKI, SKI", async () => {
    const pem = await issue();
    expect(new X509Certificate(pem).keyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    const p = peculiar(pem);
    const ku = p.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    const rootSki = peculiar(root.certPem).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    expect(p.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(rootSki);
    const ski = await x509.SubjectKeyIdentifierExtension.create(p.publicKey);
    expect(p.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).toBe(ski.keyId);
  });

  it("starts a minute before now, lasts 90 days by default, and has random positive serials", async () => {
    const a = parseNodeCertificate(await issue());
    const b = parseNodeCertificate(await issue({ validityMs: 5000 }));
    expect(a.notBefore.toISOString()).toBe("2029-12-31T23:59:00.000Z");
    expect(a.notAfter.getTime()).toBe(NOW.getTime() + 90 * DAY);
    expect(b.notAfter.getTime()).toBe(NOW.getTime() + 5000);
    for (const serial of [a.serial, b.serial]) expect(serial).toMatch(/^[0-7][0-9a-f]{31}$/);
    expect(a.serial).not.toBe(b.serial);
  });

  it("refuses garbage and CSRs whose signature does not verify", async () => {
    await expect(issue({ csrPem: "hello" })).rejects.toMatchObject({
      name: "InvalidCsrError",
      code: "CA_INVALID_CSR",
      message: "invalid certificate signing request: no PEM CERTIFICATE REQUEST block found",
    });
    await expect(issue({ csrPem: toPem("CERTIFICATE REQUEST", Buffer.from("junk")) })).rejects.toThrow(
      /^invalid certificate signing request: cannot parse: /,
    );
    await expect(issue({ csrPem: tamperLastByte(node.csrPem) })).rejects.toThrow(
      "invalid certificate signing request: its signature does not match its public key",
    );
  });

  it("refuses bad IDs, roles and validity, and a root key that is not the root's", async () => {
    await expect(issue({ nodeId: "" })).rejects.toMatchObject({
      code: "CA_INVALID_ARGUMENT",
      message: 'invalid node ID "": expected 1-63 letters, digits or hyphens, not starting with a hyphen',
    });
    await expect(issue({ clusterId: "a,O=evil" })).rejects.toThrow('invalid cluster ID "a,O=evil"');
    await expect(issue({ role: "swarm-admin" as never })).rejects.toThrow(
      'invalid role "swarm-admin": expected swarm-manager or swarm-worker',
    );
    await expect(issue({ validityMs: -1 })).rejects.toThrow("invalid certificate validity (ms) -1: expected a positive number");
    await expect(issue({ rootKeyPem: otherRoot.keyPem })).rejects.toMatchObject({
      code: "CA_INVALID_PRIVATE_KEY",
      message: "the root CA key does not belong to the root CA certificate",
    });
    await expect(issue({ rootKeyPem: node.csrPem })).rejects.toThrow("invalid root CA key: not a PEM private key");
    await expect(issue({ rootCertPem: "x" })).rejects.toThrow("invalid root CA certificate: no PEM CERTIFICATE block found");
  });
});

describe("parseNodeCertificate", () => {
  it("reads identity, validity and serial", async () => {
    const root = await createRootCA({ now: NOW });
    const { csrPem } = await createKeyAndCsr();
    const pem = await signNodeCertificate({
      rootCertPem: root.certPem, rootKeyPem: root.keyPem, csrPem, nodeId: "w1", role: "swarm-worker", clusterId: "c1", now: NOW, validityMs: DAY,
    });
    const info = parseNodeCertificate(pem);
    expect(info).toEqual({
      nodeId: "w1",
      role: "swarm-worker",
      clusterId: "c1",
      notBefore: new Date(NOW.getTime() - 60_000),
      notAfter: new Date(NOW.getTime() + DAY),
      serial: new X509Certificate(pem).serialNumber.toLowerCase(),
    });
  });

  it("refuses what is not a node certificate", async () => {
    const root = await createRootCA();
    expect(() => parseNodeCertificate(root.certPem)).toThrow(
      'certificate "CN=swarm-ca" is not a swarm node certificate: expected one OU (the role), got 0',
    );
    expect(() => parseNodeCertificate("")).toThrow("invalid certificate: no PEM CERTIFICATE block found");
    expect(() => parseNodeCertificate(toPem("CERTIFICATE", Buffer.from([1, 2, 3])))).toThrow(
      /^invalid certificate: cannot parse: /,
    );
    const keys = await x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=n1, OU=swarm-admin, O=c1",
      keys: await globalThis.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    });
    expect(() => parseNodeCertificate(keys.toString("pem"))).toThrow(
      'certificate "CN=n1, OU=swarm-admin, O=c1" is not a swarm node certificate: OU must be swarm-manager or swarm-worker, got "swarm-admin"',
    );
  });
});

describe("rootDigest", () => {
  it("is the SHA-256 of the DER in base 36, padded to 50", () => {
    expect(rootDigest(FIXTURE_ROOT)).toBe(FIXTURE_DIGEST);
    // Surrounding text and line endings do not change it: only the DER counts.
    expect(rootDigest(`subject=CN=swarm-ca\r\n${FIXTURE_ROOT.replaceAll("\n", "\r\n")}`)).toBe(FIXTURE_DIGEST);
  });

  it("is 50 base-36 characters for fresh roots, and refuses non-certificates", async () => {
    expect(rootDigest((await createRootCA()).certPem)).toMatch(/^[0-9a-z]{50}$/);
    expect(() => rootDigest("nope")).toThrow("invalid root CA certificate: no PEM CERTIFICATE block found");
  });
});

describe("verifyNodeCertificate", () => {
  let root: CertificateAndKey;
  let other: CertificateAndKey;
  let cert: string;
  beforeAll(async () => {
    [root, other] = await Promise.all([createRootCA({ now: NOW }), createRootCA({ now: NOW })]);
    const { csrPem } = await createKeyAndCsr();
    cert = await signNodeCertificate({
      rootCertPem: root.certPem, rootKeyPem: root.keyPem, csrPem, nodeId: "n1", role: "swarm-manager", clusterId: "c1", now: NOW, validityMs: DAY,
    });
  });

  it("accepts a certificate of the root within its validity period, bounds included", () => {
    expect(() => verifyNodeCertificate(cert, root.certPem, NOW)).not.toThrow();
    expect(() => verifyNodeCertificate(cert, root.certPem, new Date(NOW.getTime() - 60_000))).not.toThrow();
    expect(() => verifyNodeCertificate(cert, root.certPem, new Date(NOW.getTime() + DAY))).not.toThrow();
  });

  it("refuses expired and not-yet-valid certificates", () => {
    expect(() => verifyNodeCertificate(cert, root.certPem, new Date(NOW.getTime() + DAY + 1000))).toThrow(
      expect.objectContaining({ code: "CA_INVALID_CERTIFICATE", message: "certificate expired at 2030-01-02T00:00:00.000Z" }),
    );
    expect(() => verifyNodeCertificate(cert, root.certPem, new Date(NOW.getTime() - 61_000))).toThrow(
      "certificate not valid before 2029-12-31T23:59:00.000Z",
    );
  });

  it("refuses a certificate of another root", () => {
    expect(() => verifyNodeCertificate(cert, other.certPem, NOW)).toThrow(
      "certificate not signed by this cluster's root CA",
    );
  });
});

describe("renewalDelayMs", () => {
  const from = new Date(0);
  const to = new Date(100_000);
  const at = (ms: number) => new Date(ms);

  it("waits until a random point between 50 % and 80 % of the lifetime", () => {
    expect(renewalDelayMs(from, to, at(0), () => 0)).toBe(50_000);
    expect(renewalDelayMs(from, to, at(0), () => 0.5)).toBe(65_000);
    expect(renewalDelayMs(from, to, at(10_000), () => 0.5)).toBe(55_000);
    expect(renewalDelayMs(from, to, at(0), () => 0.99999)).toBe(80_000);
  });

  it("is 0 once that point has passed, and clamps random values outside [0, 1]", () => {
    expect(renewalDelayMs(from, to, at(60_000), () => 0)).toBe(0);
    expect(renewalDelayMs(from, to, at(200_000), () => 0.5)).toBe(0);
    expect(renewalDelayMs(from, to, at(0), () => 7)).toBe(80_000);
    expect(renewalDelayMs(from, to, at(0), () => -1)).toBe(50_000);
    expect(renewalDelayMs(to, from, at(0), () => 0.5)).toBe(0);
  });

  it("schedules a fresh 90-day certificate between 45 and 72 days out", () => {
    const notBefore = new Date(NOW.getTime() - 60_000);
    const notAfter = new Date(NOW.getTime() + 90 * DAY);
    const lifetime = 90 * DAY + 60_000;
    for (const r of [0, 0.25, 0.5, 0.75, 0.999]) {
      expect(renewalDelayMs(notBefore, notAfter, NOW, () => r)).toBe(Math.round(lifetime * (0.5 + 0.3 * r) - 60_000));
    }
  });
});
