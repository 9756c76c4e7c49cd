// The public API of the Raft gRPC transport.
export { RaftTransport } from "./transport.js";
export type { PeerInfo } from "./transport.js";
export type { TransportOptions } from "./options.js";
export { DEFAULTS as TRANSPORT_DEFAULTS } from "./options.js";
export { DropReason } from "./stats.js";
export type { PeerStats, TransportCounters, TransportStats } from "./stats.js";
export {
  CodecError,
  CodecErrorCode,
  SnapshotError,
  SnapshotErrorCode,
  TransportError,
  TransportErrorCode,
} from "./errors.js";
export {
  confStateFromWire,
  confStateToWire,
  entryFromWire,
  entryToWire,
  messageFromWire,
  messageToWire,
  snapshotMetaFromWire,
  snapshotMetaToWire,
} from "./codec.js";
