// Errors the daemon's local API answers with: a gRPC code and a one-line message for the CLI.
import * as grpc from "@grpc/grpc-js";

export class DaemonError extends Error {
  override name = "DaemonError";
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export function precondition(message: string): DaemonError {
  return new DaemonError(grpc.status.FAILED_PRECONDITION, message);
}

export function invalidArgument(message: string): DaemonError {
  return new DaemonError(grpc.status.INVALID_ARGUMENT, message);
}

export function unavailable(message: string): DaemonError {
  return new DaemonError(grpc.status.UNAVAILABLE, message);
}

/** The gRPC status for any error: DaemonErrors and gRPC errors keep their code; anything else is INTERNAL. */
export function toStatus(e: unknown): Partial<grpc.StatusObject> {
  if (e instanceof DaemonError) return { code: e.code, details: e.message };
  const err = e as Partial<grpc.ServiceError>;
  if (typeof err?.code === "number" && typeof err.details === "string") return { code: err.code, details: err.details };
  return { code: grpc.status.INTERNAL, details: `internal error: ${e instanceof Error ? e.message : String(e)}` };
}
