// Public API of the Raft storage layer: the disk storage, encryptors, codec and errors.
export { RaftDiskStorage } from "./disk-storage.js";
export type { LoadedRaftState, RaftDiskStorageOptions, RaftSaveBatch } from "./disk-storage.js";
export { AES_GCM_KEY_BYTES, AesGcmEncryptor, IdentityEncryptor } from "./encryptor.js";
export type { Encryptor } from "./encryptor.js";
export {
  confStateFromProto,
  confStateToProto,
  decodeEntry,
  decodeHardState,
  decodeSnapshotMeta,
  encodeEntry,
  encodeHardState,
  encodeSnapshotMeta,
  entryFromProto,
  entryToProto,
  hardStateFromProto,
  hardStateToProto,
  snapshotMetaFromProto,
  snapshotMetaToProto,
} from "./codec.js";
export {
  DecryptionError,
  InvalidKeyError,
  RaftCodecError,
  RaftStorageClosedError,
  RaftStorageCompactionError,
  RaftStorageCorruptionError,
  RaftStorageError,
  RaftStorageErrorCode,
  RaftStorageInvalidAppendError,
  RaftStorageInvalidArgumentError,
  RaftStorageInvalidSnapshotError,
  RaftStorageUnsupportedFormatError,
} from "./errors.js";
export { SNAPSHOT_FILES_KEPT, SnapshotFiles, parseSnapshotFileName, snapshotFileName } from "./snapshot-files.js";
export type { SnapshotFileRef } from "./snapshot-files.js";
