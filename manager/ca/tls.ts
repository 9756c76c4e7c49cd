// Mutual TLS for a node's gRPC servers and channels, from its root CA, certificate and key, with
// live updates: a renewed certificate (or a new root) reaches every server and channel already
// built from it, without restarting anything.
import { X509Certificate as NodeX509Certificate } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { experimental } from "@grpc/grpc-js";
import { InvalidCertificateError, InvalidPrivateKeyError } from "./errors.js";
import { publicKeyDer } from "./keys.js";
import { certificateDer, isSignedBy, parseNodeCertificate } from "./node-certificate.js";
import type { NodeCertificateInfo } from "./node-certificate.js";
import { identityOfCertificate } from "./peer-identity.js";
import { NodeRole } from "./roles.js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** A node's TLS material, all PEM: the cluster's root CA, the node certificate and its private key. */
export interface NodeTlsMaterial {
  rootCertPem: string;
  certPem: string;
  keyPem: string;
}

/** The name servers are checked against: every manager certificate has it as a DNS SAN. */
export const MANAGER_SERVER_NAME = NodeRole.Manager;

/**
 * Checks `material` is consistent (a node certificate signed by the root, with the key that goes
 * with it) and returns what the certificate says. Validity dates are not checked: an expired
 * certificate can still be loaded, and peers will refuse it.
 */
function checkMaterial(material: NodeTlsMaterial): NodeCertificateInfo {
  const info = parseNodeCertificate(material.certPem);
  const certDer = certificateDer(material.certPem);
  if (!isSignedBy(certDer, certificateDer(material.rootCertPem, "root CA certificate"))) {
    throw new InvalidCertificateError("certificate not signed by this cluster's root CA");
  }
  const certKey = new NodeX509Certificate(certDer).publicKey.export({ type: "spki", format: "der" });
  if (!publicKeyDer(material.keyPem, "node key").equals(certKey)) {
    throw new InvalidPrivateKeyError(`the node key does not belong to the certificate of node ${info.nodeId}`);
  }
  return info;
}

function describe(cert: PeerCertificate): string {
  const subject = cert.subject as Record<string, unknown> | undefined;
  return subject ? Object.entries(subject).map(([k, v]) => `${k}=${String(v)}`).join(", ") : "(no subject)";
}

/**
 * Checks a server certificate (already verified against the root by TLS) is a manager's; when
 * `clusterId` is given, of that cluster. Returns the refusal, for `checkServerIdentity`.
 */
function checkManagerCertificate(cert: PeerCertificate, clusterId: string | null): Error | undefined {
  const id = identityOfCertificate(cert);
  if (id === null) {
    return new InvalidCertificateError(`server certificate "${describe(cert)}" is not a swarm node certificate`);
  }
  if (id.role !== NodeRole.Manager) {
    return new InvalidCertificateError(
      `server certificate of node ${id.nodeId} has role ${id.role}: only ${NodeRole.Manager} nodes serve this`,
    );
  }
  if (clusterId !== null && id.clusterId !== clusterId) {
    return new InvalidCertificateError(
      `server certificate of node ${id.nodeId} belongs to cluster ${id.clusterId}, not ${clusterId}`,
    );
  }
  return undefined;
}

/**
 * A node's mutual-TLS credentials. It is the grpc-js certificate provider of every server and
 * channel credentials it hands out, so {@link NodeTls.update} reaches them all: new connections use
 * the new material; connections already open keep the certificates they were made with.
 */
export class NodeTls implements experimental.CertificateProvider {
  #material: NodeTlsMaterial;
  #info: NodeCertificateInfo;
  #caUpdate: experimental.CaCertificateUpdate;
  #identityUpdate: experimental.IdentityCertificateUpdate;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();
  readonly #checkServerIdentity = (_host: string, cert: PeerCertificate): Error | undefined =>
    checkManagerCertificate(cert, this.#info.clusterId);

  /** Throws {@link InvalidCertificateError} / {@link InvalidPrivateKeyError} for inconsistent material. */
  constructor(material: NodeTlsMaterial) {
    this.#info = checkMaterial(material);
    this.#material = { ...material };
    this.#caUpdate = { caCertificate: Buffer.from(material.rootCertPem) };
    this.#identityUpdate = { certificate: Buffer.from(material.certPem), privateKey: Buffer.from(material.keyPem) };
  }

  /** The material in use. */
  get material(): NodeTlsMaterial {
    return { ...this.#material };
  }

  /** What the certificate in use says: identity, validity period, serial. */
  get certificate(): NodeCertificateInfo {
    return { ...this.#info };
  }

  /**
   * Replaces the material (a renewed certificate, a new key, a new root) for every server and channel
   * using these credentials. Checked like the constructor's; on error nothing changes.
   */
  update(material: NodeTlsMaterial): void {
    const info = checkMaterial(material);
    this.#info = info;
    this.#material = { ...material };
    this.#caUpdate = { caCertificate: Buffer.from(material.rootCertPem) };
    this.#identityUpdate = { certificate: Buffer.from(material.certPem), privateKey: Buffer.from(material.keyPem) };
    for (const listener of this.#identityListeners) listener(this.#identityUpdate);
    for (const listener of this.#caListeners) listener(this.#caUpdate);
  }

  /**
   * Server credentials presenting the node certificate. Client certificates are requested and
   * verified against the root but optional at the TLS layer: each RPC is checked by the
   * authorization interceptor, so that public methods (join) work without one.
   */
  serverCredentials(): grpc.ServerCredentials {
    // grpc-js 1.14 swaps the two providers between the factory and the constructor; this object is
    // both, so the order does not matter.
    return grpc.experimental.createCertificateProviderServerCredentials(this, this, false);
  }

  /**
   * Channel credentials presenting the node certificate and accepting only a server whose
   * certificate is signed by the root and is a swarm-manager certificate of this node's cluster.
   */
  clientCredentials(): grpc.ChannelCredentials {
    return grpc.experimental.createCertificateProviderChannelCredentials(this, this, {
      checkServerIdentity: this.#checkServerIdentity,
    });
  }

  /**
   * Channel options that make the server name "swarm-manager" (so that dialing by IP works), with a
   * subchannel pool of the channel's own: grpc-js otherwise shares connections between channels with
   * equal credentials, and a channel opened after a renewal (say, Raft after a promotion) would ride
   * a connection that still presents the old certificate.
   */
  channelOptions(): grpc.ChannelOptions {
    return { ...managerChannelOptions(), "grpc.use_local_subchannel_pool": 1 };
  }

  /**
   * @internal grpc-js certificate provider: registers a listener and gives it the current root.
   * The first delivery is deferred to a microtask: grpc-js server credentials register with the
   * provider before they register the server's own watcher, so a synchronous delivery would be lost
   * and the server would drop every connection.
   */
  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    queueMicrotask(() => {
      if (this.#caListeners.has(listener)) listener(this.#caUpdate);
    });
  }

  /** @internal grpc-js certificate provider. */
  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  /** @internal grpc-js certificate provider: as {@link addCaCertificateListener}, for the certificate and key. */
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.#identityListeners.has(listener)) listener(this.#identityUpdate);
    });
  }

  /** @internal grpc-js certificate provider. */
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}

/** `{ "grpc.ssl_target_name_override": "swarm-manager", "grpc.default_authority": "swarm-manager" }`. */
export function managerChannelOptions(): grpc.ChannelOptions {
  return { "grpc.ssl_target_name_override": MANAGER_SERVER_NAME, "grpc.default_authority": MANAGER_SERVER_NAME };
}

/**
 * Credentials for a node without a certificate yet (joining), presenting none. With `rootCertPem`,
 * the server must have a swarm-manager certificate signed by it. With null, the server is not
 * verified at all: the caller must check the root it fetches against the join token's digest.
 */
export function bootstrapClientCredentials(rootCertPem: string | null): grpc.ChannelCredentials {
  if (rootCertPem === null) return grpc.credentials.createSsl(null, null, null, { rejectUnauthorized: false });
  certificateDer(rootCertPem, "root CA certificate");
  return grpc.credentials.createSsl(Buffer.from(rootCertPem), null, null, {
    checkServerIdentity: (_host, cert) => checkManagerCertificate(cert, null),
  });
}
