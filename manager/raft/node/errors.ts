// Errors the Raft driver gives its callers. Each has a code the manager maps to a gRPC status.
import type { NodeId } from "../core/types.js";

/** This member is not the leader; `leaderAddr` names where to go when a leader is known. */
export class RaftNotLeaderError extends Error {
  override name = "RaftNotLeaderError";
  readonly code = "RAFT_NOT_LEADER";
  constructor(
    readonly leader: NodeId,
    readonly leaderAddr: string | null,
  ) {
    super(
      leader
        ? `this manager is not the leader: the leader is member ${leader.toString(16)}${leaderAddr ? ` at ${leaderAddr}` : ""}`
        : "this manager is not the leader and no leader is elected yet (is a quorum of managers reachable?)",
    );
  }
}

/** No quorum committed the request in time. The outcome of a proposal is then unknown. */
export class RaftTimeoutError extends Error {
  override name = "RaftTimeoutError";
  readonly code = "RAFT_TIMEOUT";
}

/** A proposal was replaced in the log after a leadership change: it was not applied. */
export class RaftProposalLostError extends Error {
  override name = "RaftProposalLostError";
  readonly code = "RAFT_PROPOSAL_LOST";
  constructor(index: number) {
    super(`the proposal at log index ${index} was replaced after a leadership change and not applied; retry it`);
  }
}

/** The node is stopped (or stopping): nothing more is accepted. */
export class RaftStoppedError extends Error {
  override name = "RaftStoppedError";
  readonly code = "RAFT_STOPPED";
  constructor(why = "the raft node is stopped") {
    super(why);
  }
}

/** A request was invalid (too large, unknown member, …). */
export class RaftInvalidRequestError extends Error {
  override name = "RaftInvalidRequestError";
  readonly code = "RAFT_INVALID_REQUEST";
}
