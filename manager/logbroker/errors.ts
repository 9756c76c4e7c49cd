// The log broker's refusals. Each code maps to a gRPC status in the adapter.

export const LogBrokerErrorCode = {
  /** The request is malformed (no selector, an unknown stream). */
  InvalidArgument: "INVALID_ARGUMENT",
  /** A service, task or node the selector names does not exist; a subscription that ended. */
  NotFound: "NOT_FOUND",
  /** A node published for a subscription it was not asked for, or logs of another node. */
  PermissionDenied: "PERMISSION_DENIED",
  /** The broker is not running (this manager does not lead, or no longer). */
  Unavailable: "UNAVAILABLE",
} as const;
export type LogBrokerErrorCode = (typeof LogBrokerErrorCode)[keyof typeof LogBrokerErrorCode];

export class LogBrokerError extends Error {
  override name = "LogBrokerError";
  constructor(
    readonly code: LogBrokerErrorCode,
    message: string,
  ) {
    super(message);
  }
}
