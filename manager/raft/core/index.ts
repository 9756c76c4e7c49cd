// The pure Raft core: a deterministic state machine with no timers, sockets or disk.
export * from "./types.js";
export * from "./errors.js";
export { RawNode, type RaftStatus, type PeerStatus } from "./raw-node.js";
export type { RaftConfig } from "./raft.js";
export { MemoryStorage, type LogStorage } from "./memory-storage.js";
export { encodeConfChange, decodeConfChange } from "./conf-change-codec.js";
export { ProgressState } from "./progress.js";
export { seededRandom } from "./random.js";
