// Who is calling: the node identity in the verified TLS client certificate of a gRPC call.
import type { PeerCertificate } from "node:tls";
import { isNodeRole } from "./roles.js";
import type { NodeRoleName } from "./roles.js";

/** The identity a node certificate carries: CN = node ID, OU = role, O = cluster ID. */
export interface PeerIdentity {
  nodeId: string;
  role: NodeRoleName;
  clusterId: string;
}

/**
 * What {@link peerIdentity} needs of a call: grpc-js server calls and server intercepting calls
 * have it. (grpc-js does not export its AuthContext type; this is its shape.)
 */
export interface CallWithAuthContext {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate | undefined } | null;
}

function single(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** The identity in a peer certificate's subject, or null when it is not a node certificate. */
export function identityOfCertificate(cert: PeerCertificate | undefined): PeerIdentity | null {
  const subject = cert?.subject as Record<string, unknown> | undefined;
  if (!subject) return null;
  const nodeId = single(subject.CN);
  const role = single(subject.OU);
  const clusterId = single(subject.O);
  if (nodeId === null || clusterId === null || !isNodeRole(role)) return null;
  return { nodeId, role, clusterId };
}

/**
 * The identity of the caller, or null when the call has no verified node certificate. grpc-js fills
 * the auth context only when the TLS client certificate was verified against the server's CA (chain
 * and validity period), so null means missing, expired, from another CA, or not a node certificate.
 * Multi-valued fields (e.g. two OUs) are refused.
 */
export function peerIdentity(call: CallWithAuthContext): PeerIdentity | null {
  return identityOfCertificate(call.getAuthContext()?.sslPeerCertificate);
}
