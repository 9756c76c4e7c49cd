// The Raft library: a pure core (core/), level storage (storage/), gRPC transport (transport/)
// and the driver that runs them together (node/). It imports nothing else of the repository.
export * from "./node/index.js";
export { RaftTransport, type TransportStats } from "./transport/index.js";
export { AesGcmEncryptor, IdentityEncryptor, RaftStorageCorruptionError, type Encryptor } from "./storage/index.js";
export {
  ConfChangeRefusedError,
  NotLeaderError,
  ProposalDroppedError,
  RaftInvariantError,
  type NodeId,
  type RaftStatus,
} from "./core/index.js";
