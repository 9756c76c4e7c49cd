// What a RaftNode is built from, and its defaults (SwarmKit's values where it has them; the tick is
// 100 ms instead of SwarmKit's 1 s, for a tenfold faster failover).
import type * as grpc from "@grpc/grpc-js";
import type { NodeId } from "../core/types.js";
import type { Encryptor } from "../storage/index.js";

/** The application's replicated state machine. */
export interface StateMachine {
  /** Applies a committed payload; the result resolves the proposal's promise on the proposing member. */
  apply(data: Uint8Array, index: number): unknown;
  /** The whole state, for a snapshot at the last applied index. */
  snapshot(): Uint8Array;
  /**
   * Optional: the state at the last applied index, captured when called and encoded without blocking
   * (periodic snapshots then do not stall the log). Later applies must not change what was captured.
   * The node copies the bytes into its snapshot before it asks for the next one, so they need only
   * stay valid until then (a state machine may reuse its buffer).
   */
  snapshotAsync?(): Promise<Uint8Array>;
  /** Replaces the whole state with a snapshot's. */
  restore(data: Uint8Array, index: number): void;
}

export interface RaftNodeOptions {
  id: NodeId;
  clusterId: string;
  /** Directory of the log (level) and snapshot files. */
  dataDir: string;
  stateMachine: StateMachine;
  /** Credentials for connections to peers (mutual TLS in production). */
  clientCredentials: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  encryptor?: Encryptor;
  /** Milliseconds per tick. Default 100. */
  tickMs?: number;
  /** Ticks before a follower campaigns (randomized in [n, 2n)). Default 10. */
  electionTick?: number;
  /** Ticks between heartbeats. Default 2 (five per shortest election timeout). */
  heartbeatTick?: number;
  /**
   * Applied entries between snapshots. Default 10,000. Members take theirs at different points of
   * the interval (spread by rank among the members), so that no two members snapshot at once.
   */
  snapshotInterval?: number;
  /** Entries kept after a snapshot for slow followers. Default 500. */
  keepEntries?: number;
  /** How long a proposal or read may wait for a quorum. Default 5,000 ms. */
  requestTimeoutMs?: number;
  /** Largest proposal payload. Default 1.5 MiB. */
  maxProposalBytes?: number;
  /** Seed of the election timer (default: random). */
  seed?: number;
  /** Campaign at once when the connection to the leader breaks, instead of waiting out the election timeout. Default true. */
  fastFailover?: boolean;
  /** Largest grpc message between members. Default 4 MiB. */
  maxMessageBytes?: number;
}

export const RAFT_DEFAULTS = {
  tickMs: 100,
  electionTick: 10,
  heartbeatTick: 2,
  snapshotInterval: 10_000,
  keepEntries: 500,
  requestTimeoutMs: 5_000,
  maxProposalBytes: 1.5 * 1024 * 1024,
  fastFailover: true,
  maxMessageBytes: 4 * 1024 * 1024,
} as const;
