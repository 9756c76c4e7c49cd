// Who is calling: the node identity in the verified TLS client certificate of a gRPC call, with the
// certificate read once per connection.
import type * as grpc from "@grpc/grpc-js";
import { TLSSocket, type PeerCertificate } from "node:tls";
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

/** What grpc-js knows of a call's transport security (the library does not export the type). */
export type AuthContext = ReturnType<grpc.ServerInterceptingCallInterface["getAuthContext"]>;

/** Auth contexts by connection; an entry goes with its connection (a WeakMap keeps none alive). */
const authByConnection = new WeakMap<TLSSocket, AuthContext>();

/**
 * The TLS socket of a grpc-js server call as the first server interceptor receives it: grpc-js's
 * first call layer keeps the HTTP/2 stream it serves (not in its typings). Undefined for anything
 * else.
 */
function tlsSocketOf(call: unknown): TLSSocket | undefined {
  const socket = (call as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket;
  return socket instanceof TLSSocket ? socket : undefined;
}

/**
 * The call's auth context, read once per TLS connection. grpc-js builds it anew for every call, and
 * reading the peer certificate (`TLSSocket.getPeerCertificate`: the X.509 certificate made into an
 * object, with three fingerprints) cost a busy leader about a tenth of its CPU. A connection's
 * certificate and its verification (`authorized`, which grpc-js checks) are settled by its
 * handshake, so the first answer holds for the connection's life. A call whose socket is not
 * reachable so (a server interceptor that is not the first) is read every time.
 */
export function connectionAuthContext(call: grpc.ServerInterceptingCallInterface): AuthContext {
  const socket = tlsSocketOf(call);
  if (!socket) return call.getAuthContext();
  let auth = authByConnection.get(socket);
  if (auth === undefined) {
    auth = call.getAuthContext();
    authByConnection.set(socket, auth);
  }
  return auth;
}
