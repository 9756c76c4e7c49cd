// Error classes of the transport: each carries a stable `code` so callers branch on it, not on text.

/** Why a transport call was refused. */
export const TransportErrorCode = {
  InvalidOptions: "INVALID_OPTIONS",
  Closed: "CLOSED",
  PeerExists: "PEER_EXISTS",
  UnknownPeer: "UNKNOWN_PEER",
  InvalidPeer: "INVALID_PEER",
} as const;
export type TransportErrorCode = (typeof TransportErrorCode)[keyof typeof TransportErrorCode];

/** A misuse of the transport's API (bad options, unknown peer, use after close). */
export class TransportError extends Error {
  override readonly name = "TransportError";
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Why a wire message could not be turned into a core message. */
export const CodecErrorCode = {
  UnknownMessageType: "UNKNOWN_MESSAGE_TYPE",
  UnknownEntryType: "UNKNOWN_ENTRY_TYPE",
} as const;
export type CodecErrorCode = (typeof CodecErrorCode)[keyof typeof CodecErrorCode];

/** A wire message that does not map onto the core's data model. */
export class CodecError extends Error {
  override readonly name = "CodecError";
  constructor(
    readonly code: CodecErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Why an incoming snapshot stream was rejected. */
export const SnapshotErrorCode = {
  MissingMessage: "MISSING_MESSAGE",
  NonContiguous: "NON_CONTIGUOUS",
  TooLarge: "TOO_LARGE",
  SizeMismatch: "SIZE_MISMATCH",
  ChecksumMismatch: "CHECKSUM_MISMATCH",
  AfterLast: "AFTER_LAST",
  Incomplete: "INCOMPLETE",
  SenderChanged: "SENDER_CHANGED",
} as const;
export type SnapshotErrorCode = (typeof SnapshotErrorCode)[keyof typeof SnapshotErrorCode];

/** A snapshot chunk stream that is malformed, truncated, oversized or corrupted. */
export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
  constructor(
    readonly code: SnapshotErrorCode,
    message: string,
  ) {
    super(message);
  }
}
