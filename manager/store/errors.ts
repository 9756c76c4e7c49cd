// The store's expected failures. Each carries a code that the Control API maps to a gRPC status.

export const StoreErrorCode = {
  NotFound: "NOT_FOUND",
  AlreadyExists: "ALREADY_EXISTS",
  /** An update named a stale meta.version (optimistic concurrency). */
  Conflict: "FAILED_PRECONDITION",
  InvalidArgument: "INVALID_ARGUMENT",
  /** No leader or no quorum: the write could not be committed. */
  Unavailable: "UNAVAILABLE",
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends Error {
  override name = "StoreError";
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function notFound(kind: string, ref: string): StoreError {
  return new StoreError(StoreErrorCode.NotFound, `${kind} ${ref} not found`);
}
