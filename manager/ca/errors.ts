// The CA library's failure kinds: one error class per kind, each with a stable `code`.

/** Stable codes of the CA errors, for callers that match on `err.code`. */
export const CaErrorCode = {
  InvalidCsr: "CA_INVALID_CSR",
  InvalidCertificate: "CA_INVALID_CERTIFICATE",
  InvalidPrivateKey: "CA_INVALID_PRIVATE_KEY",
  InvalidArgument: "CA_INVALID_ARGUMENT",
  InvalidJoinToken: "CA_INVALID_JOIN_TOKEN",
  InvalidUnlockKey: "CA_INVALID_UNLOCK_KEY",
  WrongUnlockKey: "CA_WRONG_UNLOCK_KEY",
  Locked: "CA_LOCKED",
  InvalidWrappedKey: "CA_INVALID_WRAPPED_KEY",
  Unauthenticated: "CA_UNAUTHENTICATED",
  PermissionDenied: "CA_PERMISSION_DENIED",
  NotReady: "CA_NOT_READY",
} as const;
/** One of the {@link CaErrorCode} values. */
export type CaErrorCode = (typeof CaErrorCode)[keyof typeof CaErrorCode];

/** Common base of every error thrown by the CA library. */
export abstract class CaError extends Error {
  abstract readonly code: CaErrorCode;
}

/** A certificate signing request that cannot be parsed or whose self-signature does not verify. */
export class InvalidCsrError extends CaError {
  readonly code = CaErrorCode.InvalidCsr;
  override readonly name = "InvalidCsrError";

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`invalid certificate signing request: ${reason}`, options);
  }
}

/** A certificate that cannot be parsed, is not a node certificate, is expired or has the wrong issuer. */
export class InvalidCertificateError extends CaError {
  readonly code = CaErrorCode.InvalidCertificate;
  override readonly name = "InvalidCertificateError";
}

/** A private key that cannot be parsed or does not belong to the certificate it is used with. */
export class InvalidPrivateKeyError extends CaError {
  readonly code = CaErrorCode.InvalidPrivateKey;
  override readonly name = "InvalidPrivateKeyError";
}

/** An argument out of range: an empty node ID, an unknown role, a non-positive validity. */
export class CaInvalidArgumentError extends CaError {
  readonly code = CaErrorCode.InvalidArgument;
  override readonly name = "CaInvalidArgumentError";
}

/** A join token that does not have the `SWMTKN-1-<digest>-<secret>` form. Never contains the secret. */
export class InvalidJoinTokenError extends CaError {
  readonly code = CaErrorCode.InvalidJoinToken;
  override readonly name = "InvalidJoinTokenError";
}

/** An unlock key that does not have the `SWMKEY-1-<base64>` form, or a KEK of the wrong size. */
export class InvalidUnlockKeyError extends CaError {
  readonly code = CaErrorCode.InvalidUnlockKey;
  override readonly name = "InvalidUnlockKeyError";
}

/** Data encrypted with an unlock key could not be decrypted with the key given (or was tampered with). */
export class WrongUnlockKeyError extends CaError {
  readonly code = CaErrorCode.WrongUnlockKey;
  override readonly name = "WrongUnlockKeyError";

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`the unlock key does not match: ${reason}`, options);
  }
}

/** Data is encrypted with an unlock key (autolock) and none was given: the node must be unlocked. */
export class LockedError extends CaError {
  readonly code = CaErrorCode.Locked;
  override readonly name = "LockedError";
}

/** Wrapped key bytes that are truncated or of an unknown format version. */
export class InvalidWrappedKeyError extends CaError {
  readonly code = CaErrorCode.InvalidWrappedKey;
  override readonly name = "InvalidWrappedKeyError";
}

/** A call that needs a verified client certificate arrived without one (maps to gRPC UNAUTHENTICATED). */
export class UnauthenticatedError extends CaError {
  readonly code = CaErrorCode.Unauthenticated;
  override readonly name = "UnauthenticatedError";
}

/** A verified caller that may not make this call (maps to gRPC PERMISSION_DENIED). */
export class PermissionDeniedError extends CaError {
  readonly code = CaErrorCode.PermissionDenied;
  override readonly name = "PermissionDeniedError";
}

/** The server cannot authorize yet because it does not know its cluster ID (maps to gRPC UNAVAILABLE). */
export class NotReadyError extends CaError {
  readonly code = CaErrorCode.NotReady;
  override readonly name = "NotReadyError";
}
