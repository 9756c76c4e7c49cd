// The dispatcher's own refusals (the store's errors, StoreError, cover the rest). Each code maps to
// a gRPC status in the adapter.

export const DispatcherErrorCode = {
  /** The caller asked about something that is not its own (a task of another node). */
  PermissionDenied: "PERMISSION_DENIED",
} as const;
export type DispatcherErrorCode = (typeof DispatcherErrorCode)[keyof typeof DispatcherErrorCode];

export class DispatcherError extends Error {
  override name = "DispatcherError";
  constructor(
    readonly code: DispatcherErrorCode,
    message: string,
  ) {
    super(message);
  }
}
