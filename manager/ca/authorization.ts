// Per-RPC authorization: a pure decision (method policy × verified identity × cluster state) and the
// grpc-js server interceptor that applies it before any handler runs.
import * as grpc from "@grpc/grpc-js";
import { NotReadyError, PermissionDeniedError, UnauthenticatedError } from "./errors.js";
import { connectionAuthContext, identityOfCertificate, peerIdentity } from "./peer-identity.js";
import type { AuthContext, CallWithAuthContext, PeerIdentity } from "./peer-identity.js";
import type { NodeRoleName } from "./roles.js";

/**
 * Who may call a method: "public" needs no client certificate (fetching the root CA, joining with a
 * token); a list of roles needs a verified certificate of this cluster with one of those roles.
 */
export type MethodPolicy = "public" | NodeRoleName[];

/** What the authorization decision reads. */
export interface AuthorizationOptions {
  /** The policy of a full method path ("/swarm.v1.Control/ListNodes"); undefined = not served here. */
  policy: (methodPath: string) => MethodPolicy | undefined;
  /** This cluster's ID, or null while this manager does not know it yet. */
  clusterId: () => string | null;
  /** True for nodes removed from the cluster, whose certificates are refused until they expire. */
  isRemoved?: (nodeId: string) => boolean;
}

/** Why a call was refused; each kind maps to a gRPC status. */
export type AuthorizationError = UnauthenticatedError | PermissionDeniedError | NotReadyError;

/** Message of the UNAUTHENTICATED refusal. */
export const CLIENT_CERTIFICATE_REQUIRED =
  "a client certificate issued by this cluster's CA is required (missing, expired or from another CA)";

/**
 * Decides whether `identity` (null: no verified certificate) may call `methodPath`; returns the
 * refusal or null. Checks, in order: the method is served, it is public, there is an identity, its
 * cluster is ours, the node was not removed, its role is allowed.
 */
export function authorize(
  methodPath: string,
  identity: PeerIdentity | null,
  opts: AuthorizationOptions,
): AuthorizationError | null {
  const policy = opts.policy(methodPath);
  if (policy === undefined) return new PermissionDeniedError(`method ${methodPath} is not served here`);
  if (policy === "public") return null;
  if (identity === null) return new UnauthenticatedError(CLIENT_CERTIFICATE_REQUIRED);
  const clusterId = opts.clusterId();
  if (clusterId === null) {
    return new NotReadyError(`cannot authorize ${methodPath} yet: this manager does not know its cluster ID`);
  }
  if (identity.clusterId !== clusterId) {
    return new PermissionDeniedError(`certificate belongs to cluster ${identity.clusterId}, not ${clusterId}`);
  }
  if (opts.isRemoved?.(identity.nodeId)) {
    return new PermissionDeniedError(`node ${identity.nodeId} was removed from the cluster`);
  }
  if (!policy.includes(identity.role)) {
    return new PermissionDeniedError(`role ${identity.role} may not call ${methodPath}`);
  }
  return null;
}

/** The gRPC status code of a refusal. */
export function authorizationStatus(err: AuthorizationError): grpc.status {
  switch (err.code) {
    case "CA_UNAUTHENTICATED":
      return grpc.status.UNAUTHENTICATED;
    case "CA_PERMISSION_DENIED":
      return grpc.status.PERMISSION_DENIED;
    case "CA_NOT_READY":
      return grpc.status.UNAVAILABLE;
  }
}

/** A call layer that answers `getAuthContext` (the handler's too) with the context it was given. */
class KnownAuthCall extends grpc.ServerInterceptingCall {
  constructor(
    next: grpc.ServerInterceptingCallInterface,
    responder: grpc.Responder,
    private readonly auth: AuthContext,
  ) {
    super(next, responder);
  }

  override getAuthContext(): AuthContext {
    return this.auth;
  }
}

/**
 * A server interceptor applying {@link authorize} to every call before its handler runs (the call's
 * metadata is held back until it passes, so a refused call never reaches the handler). Install with
 * `new grpc.Server({ interceptors: [createAuthorizationInterceptor(…)] })`, first: it reads the
 * peer certificate once per connection ({@link connectionAuthContext}) and hands that to the later
 * layers and the handler.
 */
export function createAuthorizationInterceptor(opts: AuthorizationOptions): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    const auth = connectionAuthContext(call);
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const refusal = authorize(methodDescriptor.path, identityOfCertificate(auth.sslPeerCertificate), opts);
        if (refusal === null) {
          next(metadata);
          return;
        }
        call.sendStatus({ code: authorizationStatus(refusal), details: refusal.message, metadata: new grpc.Metadata() });
      })
      .build();
    return new KnownAuthCall(call, { start: (next) => next(listener) }, auth);
  };
}

/**
 * The verified identity of the caller, for handlers of non-public methods (the interceptor has
 * already checked it). Throws {@link UnauthenticatedError} when the call has none.
 */
export function authorizedIdentity(call: CallWithAuthContext): PeerIdentity {
  const identity = peerIdentity(call);
  if (identity === null) throw new UnauthenticatedError(CLIENT_CERTIFICATE_REQUIRED);
  return identity;
}
