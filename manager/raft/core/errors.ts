// Errors the Raft core reports to its caller. Expected failures carry a code; broken invariants
// throw RaftInvariantError and mean the node must stop.
import type { NodeId } from "./types.js";

/** A proposal or read was refused because this node is not the leader. */
export class NotLeaderError extends Error {
  override name = "NotLeaderError";
  readonly code = "RAFT_NOT_LEADER";
  constructor(readonly leader: NodeId) {
    super(leader ? `not the leader: the leader is member ${leader}` : "not the leader: no leader is known");
  }
}

/** The leader refused a proposal (leadership transfer under way, too much uncommitted data, …). */
export class ProposalDroppedError extends Error {
  override name = "ProposalDroppedError";
  readonly code = "RAFT_PROPOSAL_DROPPED";
  constructor(reason: string) {
    super(`proposal dropped: ${reason}`);
  }
}

/** A membership change was refused (another one pending, unknown member, …). */
export class ConfChangeRefusedError extends Error {
  override name = "ConfChangeRefusedError";
  readonly code = "RAFT_CONF_CHANGE_REFUSED";
  constructor(reason: string) {
    super(`membership change refused: ${reason}`);
  }
}

/** The requested log position was compacted into a snapshot. */
export class CompactedError extends Error {
  override name = "CompactedError";
  readonly code = "RAFT_COMPACTED";
  constructor(index: number) {
    super(`log index ${index} is compacted`);
  }
}

/** The requested log position is beyond the last entry. */
export class UnavailableError extends Error {
  override name = "UnavailableError";
  readonly code = "RAFT_UNAVAILABLE";
  constructor(index: number) {
    super(`log index ${index} is unavailable`);
  }
}

/** A snapshot older than the one held was offered. */
export class SnapshotOutOfDateError extends Error {
  override name = "SnapshotOutOfDateError";
  readonly code = "RAFT_SNAPSHOT_OUT_OF_DATE";
  constructor(index: number, held: number) {
    super(`snapshot at index ${index} is older than the one held (${held})`);
  }
}

/** A rule of the algorithm was broken: the node's state can no longer be trusted. */
export class RaftInvariantError extends Error {
  override name = "RaftInvariantError";
  readonly code = "RAFT_INVARIANT";
}

export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new RaftInvariantError(message);
}
