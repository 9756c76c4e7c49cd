// The Raft driver: RaftNode and what it is built from.
export { RaftNode, type RaftInit, type RaftNodeStatus } from "./raft-node.js";
export { RAFT_DEFAULTS, type RaftNodeOptions, type StateMachine } from "./options.js";
export * from "./errors.js";
export type { Member } from "./members.js";
