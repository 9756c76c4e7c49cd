// The transport's counters: what was sent, received and dropped (and why). The library does not
// log; these numbers are how its behaviour is observed.
import type { NodeId } from "../core/types.js";

/** Why a message (or a whole snapshot) was dropped. */
export const DropReason = {
  /** Incoming: tagged with another cluster id. */
  WrongCluster: "wrongCluster",
  /** Incoming: addressed to another member id. */
  WrongTarget: "wrongTarget",
  /** Incoming: sent by an id that is not a member. */
  UnknownMember: "unknownMember",
  /** Incoming: undecodable (unknown type, local-only type, inconsistent sender). */
  Malformed: "malformed",
  /** Incoming: a snapshot stream that failed its checks (size, offsets, sha256, limit). */
  BadSnapshot: "badSnapshot",
  /** Outgoing: the peer's queue was full. */
  QueueFull: "queueFull",
  /** Outgoing: addressed to an id that is not a peer. */
  UnknownPeer: "unknownPeer",
  /** Outgoing: one message larger than maxMessageBytes. */
  TooLarge: "tooLarge",
  /** Outgoing: a snapshot while another one to the same peer is in flight. */
  SnapshotBusy: "snapshotBusy",
  /** Outgoing: a local-only message type, a `from` other than the local id, or a Snap without a snapshot. */
  Invalid: "invalid",
  /** Outgoing: sent after close(). */
  Closed: "closed",
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** Monotonic counters since the transport was created. */
export interface TransportCounters {
  /** Messages written to a peer stream (including ones later lost with a broken stream). */
  sentMessages: number;
  sentBatches: number;
  /** Encoded MessageBatch bytes written. */
  sentBytes: number;
  /** Messages accepted and handed to onMessage (a snapshot counts as one). */
  receivedMessages: number;
  receivedBatches: number;
  /** Outgoing snapshots acknowledged by the peer. */
  snapshotsSent: number;
  /** Incoming snapshots reassembled, verified and delivered. */
  snapshotsReceived: number;
  /** Outgoing snapshots that failed. */
  snapshotsFailed: number;
  /** Outgoing message streams that broke (or could not be opened). */
  streamFailures: number;
}

/** Per-peer view at the time of the stats() call. */
export interface PeerStats {
  id: NodeId;
  address: string;
  /** Messages waiting to be written. */
  queueLength: number;
  /** Whether the message stream is open and acknowledged by the peer. */
  connected: boolean;
  snapshotInFlight: boolean;
}

/** A snapshot of the transport's counters and peers. */
export interface TransportStats extends TransportCounters {
  dropped: Record<DropReason, number>;
  peers: PeerStats[];
}

/** Fresh zeroed counters. */
export function newCounters(): TransportCounters {
  return {
    sentMessages: 0,
    sentBatches: 0,
    sentBytes: 0,
    receivedMessages: 0,
    receivedBatches: 0,
    snapshotsSent: 0,
    snapshotsReceived: 0,
    snapshotsFailed: 0,
    streamFailures: 0,
  };
}

/** Fresh zeroed drop counts, one per reason. */
export function newDropCounts(): Record<DropReason, number> {
  return Object.fromEntries(Object.values(DropReason).map((r) => [r, 0])) as Record<DropReason, number>;
}
