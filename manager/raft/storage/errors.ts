// The storage layer's failure kinds: one error class per kind, each with a stable `code`.

/** Stable codes of the storage errors, for callers that match on `err.code`. */
export const RaftStorageErrorCode = {
  Corrupt: "RAFT_STORAGE_CORRUPT",
  Decryption: "RAFT_STORAGE_DECRYPTION_FAILED",
  InvalidKey: "RAFT_STORAGE_INVALID_KEY",
  BadRecord: "RAFT_STORAGE_BAD_RECORD",
  InvalidAppend: "RAFT_STORAGE_INVALID_APPEND",
  InvalidSnapshot: "RAFT_STORAGE_INVALID_SNAPSHOT",
  CompactBeyondSnapshot: "RAFT_STORAGE_COMPACT_BEYOND_SNAPSHOT",
  UnsupportedFormat: "RAFT_STORAGE_UNSUPPORTED_FORMAT",
  InvalidArgument: "RAFT_STORAGE_INVALID_ARGUMENT",
  Closed: "RAFT_STORAGE_CLOSED",
} as const;
/** One of the {@link RaftStorageErrorCode} values. */
export type RaftStorageErrorCode = (typeof RaftStorageErrorCode)[keyof typeof RaftStorageErrorCode];

/** Common base of every error thrown by the storage layer. */
export abstract class RaftStorageError extends Error {
  abstract readonly code: RaftStorageErrorCode;
}

/**
 * Data on disk is damaged, tampered with, missing or inconsistent. `path` names the db directory or
 * snapshot file; `index` the log (or snapshot) index concerned, when there is one.
 */
export class RaftStorageCorruptionError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.Corrupt;
  override readonly name = "RaftStorageCorruptionError";
  readonly path: string;
  readonly index: number | undefined;

  constructor(path: string, index: number | undefined, reason: string, options?: { cause?: unknown }) {
    const at = index === undefined ? "" : ` at index ${index}`;
    super(`raft storage corrupt: ${path}${at}: ${reason}`, options);
    this.path = path;
    this.index = index;
  }
}

/** Sealed data could not be opened: a wrong key, a different encryptor, or tampered data. */
export class DecryptionError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.Decryption;
  override readonly name = "DecryptionError";
}

/** An encryption key of the wrong size or kind was given. */
export class InvalidKeyError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.InvalidKey;
  override readonly name = "InvalidKeyError";
}

/** A stored record decoded to values the core types cannot hold (e.g. an unknown entry type). */
export class RaftCodecError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.BadRecord;
  override readonly name = "RaftCodecError";
}

/** The entries given to `save` would leave a gap or are not contiguous; nothing was written. */
export class RaftStorageInvalidAppendError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.InvalidAppend;
  override readonly name = "RaftStorageInvalidAppendError";
}

/** A snapshot older than the stored one, beyond the log, or with index 0; nothing was written. */
export class RaftStorageInvalidSnapshotError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.InvalidSnapshot;
  override readonly name = "RaftStorageInvalidSnapshotError";
}

/** `compact` was asked to delete entries that no snapshot covers yet. */
export class RaftStorageCompactionError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.CompactBeyondSnapshot;
  override readonly name = "RaftStorageCompactionError";
}

/** The directory was written by an unknown (newer) version of the storage format. */
export class RaftStorageUnsupportedFormatError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.UnsupportedFormat;
  override readonly name = "RaftStorageUnsupportedFormatError";
}

/** An argument is out of range (e.g. an empty metadata name). */
export class RaftStorageInvalidArgumentError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.InvalidArgument;
  override readonly name = "RaftStorageInvalidArgumentError";
}

/** The storage was used after `close()`. */
export class RaftStorageClosedError extends RaftStorageError {
  readonly code = RaftStorageErrorCode.Closed;
  override readonly name = "RaftStorageClosedError";
}
