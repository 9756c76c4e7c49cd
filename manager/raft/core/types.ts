// The Raft core's data model: log entries, durable state, snapshots, messages and the Ready batch.
// Plain data only; the wire encoding lives in proto/raft.proto and manager/raft/transport.

/** Member ids are positive integers below 2^53; 0 means "none". */
export type NodeId = number;
export const NONE: NodeId = 0;

export const EntryType = {
  Normal: 0,
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be on disk before any message of the same Ready is sent. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** Voting members and learners (non-voting members that receive the log). */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export const ConfChangeType = {
  /** Add a member that receives the log but does not vote. */
  AddLearner: 0,
  /** Add a voter, or promote a learner to voter. */
  AddVoter: 1,
  RemoveNode: 2,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** One membership change; `context` is opaque to the core (the driver stores the member's address there). */
export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  context: Uint8Array;
}

export const MessageType = {
  Hup: 0,
  Beat: 1,
  Prop: 2,
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  Snap: 7,
  Heartbeat: 8,
  HeartbeatResp: 9,
  Unreachable: 10,
  SnapStatus: 11,
  CheckQuorum: 12,
  TransferLeader: 13,
  TimeoutNow: 14,
  ReadIndex: 15,
  ReadIndexResp: 16,
  PreVote: 17,
  PreVoteResp: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const messageTypeName: Record<MessageType, string> = Object.fromEntries(
  Object.entries(MessageType).map(([k, v]) => [v, k]),
) as Record<MessageType, string>;

/**
 * A Raft message. Fields follow etcd's raftpb.Message:
 * - `index`/`logTerm`: the entry preceding `entries` (App), or the candidate's last entry (Vote).
 * - `reject`/`rejectHint`: on AppResp, the follower's hint for fast back-off; `logTerm` then carries
 *   the term of the follower's entry at `rejectHint`.
 * - `context`: ReadIndex request context, or campaign-transfer marker on Vote.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  logTerm: number;
  index: number;
  commit: number;
  entries: Entry[];
  reject: boolean;
  rejectHint: number;
  snapshot: Snapshot | null;
  context: Uint8Array;
}

/** A linearizable read point: once `index` is applied, reads for `context` may be served. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

export const StateType = {
  Follower: "follower",
  PreCandidate: "pre-candidate",
  Candidate: "candidate",
  Leader: "leader",
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

/** Volatile state worth reporting (not persisted). */
export interface SoftState {
  lead: NodeId;
  state: StateType;
}

/**
 * One batch of work for the driver, to be handled in order:
 * 1. persist `hardState`, `snapshot` and `entries` in one synced write;
 * 2. send `messages`;
 * 3. apply `snapshot` (if any) then `committedEntries` to the state machine;
 * 4. call `advance()`.
 */
export interface Ready {
  softState: SoftState | null;
  hardState: HardState | null;
  readStates: ReadState[];
  entries: Entry[];
  snapshot: Snapshot | null;
  committedEntries: Entry[];
  messages: Message[];
  /** True when hardState or entries must be synced to disk before messages go out. */
  mustSync: boolean;
}

/** Builds a message with every field set to its zero value except those given. */
export function message(fields: Partial<Message> & Pick<Message, "type">): Message {
  return {
    from: NONE,
    to: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    commit: 0,
    entries: [],
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: EMPTY,
    ...fields,
  };
}

export const EMPTY: Uint8Array = new Uint8Array(0);

/** Rough size of an entry for flow control (payload plus fixed overhead). */
export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

/** True for messages that are answers rather than requests, used to count check-quorum activity. */
export function isResponse(t: MessageType): boolean {
  return (
    t === MessageType.AppResp ||
    t === MessageType.VoteResp ||
    t === MessageType.HeartbeatResp ||
    t === MessageType.PreVoteResp ||
    t === MessageType.ReadIndexResp
  );
}

/** Local messages never travel over the network. */
export function isLocal(t: MessageType): boolean {
  return (
    t === MessageType.Hup ||
    t === MessageType.Beat ||
    t === MessageType.Unreachable ||
    t === MessageType.SnapStatus ||
    t === MessageType.CheckQuorum
  );
}
