import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cleanup, app, startNode, waitFor } from "./test-support.js";

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = throwaway-ca
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
authorityKeyIdentifier = keyid
`;

interface Pem {
  ca: Buffer;
  key: Buffer;
  cert: Buffer;
}

/** Throwaway PKI made with the openssl CLI: ECDSA P-256 CAs and leaf certs for 127.0.0.1/localhost. */
class Pki {
  constructor(private readonly dir: string) {
    writeFileSync(join(dir, "openssl.cnf"), OPENSSL_CONFIG);
  }

  private ssl(...args: string[]): void {
    execFileSync("openssl", args, { cwd: this.dir, stdio: "pipe" });
  }

  ca(name: string): void {
    this.ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`);
    this.ssl("req", "-x509", "-new", "-key", `${name}.key`, "-sha256", "-days", "1", "-config", "openssl.cnf",
      "-subj", `/CN=${name}`, "-extensions", "ca_ext", "-out", `${name}.crt`);
  }

  leaf(name: string, ca: string, serial: number): Pem {
    this.ssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`);
    this.ssl("req", "-new", "-key", `${name}.key`, "-config", "openssl.cnf", "-subj", `/CN=${name}`, "-out", `${name}.csr`);
    this.ssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-set_serial",
      String(serial), "-days", "1", "-sha256", "-extfile", "openssl.cnf", "-extensions", "leaf_ext", "-out", `${name}.crt`);
    const read = (f: string) => readFileSync(join(this.dir, f));
    return { ca: read(`${ca}.crt`), key: read(`${name}.key`), cert: read(`${name}.crt`) };
  }
}

function clientCreds(p: Pem): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(p.ca, p.key, p.cert);
}

function serverCreds(p: Pem): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(p.ca, [{ private_key: p.key, cert_chain: p.cert }], true);
}

describe("RaftTransport over mutual TLS", () => {
  let dir: string;
  let node1: Pem;
  let node2: Pem;
  let stranger: Pem;
  const cleanup = new Cleanup();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "raft-transport-tls-"));
    const pki = new Pki(dir);
    pki.ca("cluster-ca");
    pki.ca("other-ca");
    node1 = pki.leaf("node-1", "cluster-ca", 1);
    node2 = pki.leaf("node-2", "cluster-ca", 2);
    const other = pki.leaf("node-3", "other-ca", 3);
    // Trusts the cluster CA (so it would accept the server) but presents a cert of another CA.
    stranger = { ...other, ca: node1.ca };
  });
  afterEach(() => cleanup.run());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("delivers messages both ways with certificates of the cluster CA", async () => {
    const a = cleanup.track(
      await startNode(1, { clientCredentials: clientCreds(node1), serverCredentials: serverCreds(node1) }),
    );
    const b = cleanup.track(
      await startNode(2, { clientCredentials: clientCreds(node2), serverCredentials: serverCreds(node2) }),
    );
    a.transport.addPeer(2, b.address);
    b.transport.addPeer(1, `localhost:${a.port}`);
    a.transport.send([app(1, 2, 1), app(1, 2, 2)]);
    b.transport.send([app(2, 1, 3)]);
    await waitFor(() => b.received.length === 2 && a.received.length === 1, "delivery over TLS");
    expect(b.received.map((m) => m.index)).toEqual([1, 2]);
    expect(a.received.map((m) => m.index)).toEqual([3]);
  });

  it("refuses a client whose certificate comes from another CA", async () => {
    const b = cleanup.track(
      await startNode(2, { clientCredentials: clientCreds(node2), serverCredentials: serverCreds(node2) }),
    );
    const c = cleanup.track(
      await startNode(3, { clientCredentials: clientCreds(stranger), serverCredentials: serverCreds(node2) }),
    );
    c.transport.addPeer(2, b.address);
    c.transport.send([app(3, 2, 1)]);
    await waitFor(() => c.transport.stats().streamFailures >= 2, "refused connections");
    expect(c.unreachable).toContain(2);
    expect(c.transport.isConnected(2)).toBe(false);
    expect(c.transport.stats().sentMessages).toBe(0);
    expect(b.received).toEqual([]);
  });

  it("refuses a plaintext client", async () => {
    const b = cleanup.track(
      await startNode(2, { clientCredentials: clientCreds(node2), serverCredentials: serverCreds(node2) }),
    );
    const c = cleanup.track(await startNode(3));
    c.transport.addPeer(2, b.address);
    c.transport.send([app(3, 2, 1)]);
    await waitFor(() => c.transport.stats().streamFailures >= 2, "refused connections");
    expect(c.transport.isConnected(2)).toBe(false);
    expect(b.received).toEqual([]);
  });
});
