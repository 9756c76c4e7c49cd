// The transport's options: their types, defaults, validation and the grpc channel/server options
// derived from them.
import type * as grpc from "@grpc/grpc-js";
import type { Message, NodeId } from "../core/types.js";
import { TransportError, TransportErrorCode } from "./errors.js";

/** What a RaftTransport is built from. Callbacks must not throw. */
export interface TransportOptions {
  /** Batches and chunks tagged with another cluster id are dropped. */
  clusterId: string;
  /** This member's id; incoming traffic addressed to anyone else is dropped. */
  localId: NodeId;
  /** Credentials for outgoing channels (mutual TLS in production). */
  clientCredentials: grpc.ChannelCredentials;
  /** Extra grpc channel options; they override the transport's defaults. */
  channelOptions?: grpc.ChannelOptions;
  /** Largest grpc message (one MessageBatch or SnapshotChunk), both directions. Default 4 MiB. */
  maxMessageBytes?: number;
  /** Messages queued per peer before new ones are dropped. Default 4096. */
  queueLimit?: number;
  /** Payload bytes per snapshot chunk. Default 1 MiB. */
  snapshotChunkBytes?: number;
  /** Largest snapshot payload accepted from a peer. Default 2 GiB. */
  maxSnapshotBytes?: number;
  /** Deadline of one outgoing snapshot stream, in ms. Default 10 minutes. */
  snapshotTimeoutMs?: number;
  /** Whether `id` is a current member; traffic from non-members is dropped. */
  isMember(id: NodeId): boolean;
  /** A message from a peer (a snapshot arrives whole, with `snapshot.data` set). */
  onMessage(msg: Message): void;
  /** Messages to `id` were lost (full queue, broken stream); the core should probe it. */
  onUnreachable(id: NodeId): void;
  /** The snapshot sent to `id` was delivered (`ok`) or failed. */
  onSnapshotStatus(id: NodeId, ok: boolean): void;
}

/** Options with every default filled in. */
export type ResolvedOptions = Required<Omit<TransportOptions, "channelOptions">> & {
  channelOptions: grpc.ChannelOptions;
};

export const MiB = 1024 * 1024;

/** Defaults of the optional sizes and limits. */
export const DEFAULTS = {
  maxMessageBytes: 4 * MiB,
  queueLimit: 4096,
  snapshotChunkBytes: 1 * MiB,
  maxSnapshotBytes: 2 * 1024 * MiB,
  snapshotTimeoutMs: 10 * 60_000,
} as const;

/** Room left in a grpc message for a chunk's header fields and framing. */
export const CHUNK_OVERHEAD_BYTES = 16 * 1024;

/** Largest payload a Node Buffer can hold, and so the largest snapshot we can reassemble. */
const MAX_BUFFER_BYTES = 2 ** 32;

function positiveInt(name: string, v: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || v <= 0 || v > max) {
    throw new TransportError(TransportErrorCode.InvalidOptions, `${name} must be an integer in 1..${max}, got ${v}`);
  }
  return v;
}

/** Fills in defaults and checks ranges; throws TransportError(INVALID_OPTIONS). */
export function resolveOptions(o: TransportOptions): ResolvedOptions {
  if (!Number.isSafeInteger(o.localId) || o.localId <= 0) {
    throw new TransportError(TransportErrorCode.InvalidOptions, `localId must be a positive integer, got ${o.localId}`);
  }
  const r: ResolvedOptions = {
    clusterId: o.clusterId,
    localId: o.localId,
    clientCredentials: o.clientCredentials,
    isMember: (id) => o.isMember(id),
    onMessage: (msg) => o.onMessage(msg),
    onUnreachable: (id) => o.onUnreachable(id),
    onSnapshotStatus: (id, ok) => o.onSnapshotStatus(id, ok),
    channelOptions: o.channelOptions ?? {},
    maxMessageBytes: positiveInt("maxMessageBytes", o.maxMessageBytes ?? DEFAULTS.maxMessageBytes, 2 ** 31 - 1),
    queueLimit: positiveInt("queueLimit", o.queueLimit ?? DEFAULTS.queueLimit),
    snapshotChunkBytes: positiveInt("snapshotChunkBytes", o.snapshotChunkBytes ?? DEFAULTS.snapshotChunkBytes),
    maxSnapshotBytes: positiveInt("maxSnapshotBytes", o.maxSnapshotBytes ?? DEFAULTS.maxSnapshotBytes, MAX_BUFFER_BYTES),
    snapshotTimeoutMs: positiveInt("snapshotTimeoutMs", o.snapshotTimeoutMs ?? DEFAULTS.snapshotTimeoutMs),
  };
  if (r.snapshotChunkBytes + CHUNK_OVERHEAD_BYTES > r.maxMessageBytes) {
    throw new TransportError(
      TransportErrorCode.InvalidOptions,
      `snapshotChunkBytes (${r.snapshotChunkBytes}) must leave ${CHUNK_OVERHEAD_BYTES} bytes of room below maxMessageBytes (${r.maxMessageBytes})`,
    );
  }
  return r;
}

/**
 * Channel options of outgoing connections: message size limits, keepalive (so a silently dead
 * peer is noticed on the long-lived stream) and grpc's own reconnect backoff kept as short as the
 * transport's; the caller's channelOptions win.
 */
export function channelOptionsOf(r: ResolvedOptions): grpc.ChannelOptions {
  return {
    "grpc.max_send_message_length": r.maxMessageBytes,
    "grpc.max_receive_message_length": r.maxMessageBytes,
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
    "grpc.initial_reconnect_backoff_ms": 50,
    "grpc.max_reconnect_backoff_ms": 1_000,
    ...r.channelOptions,
  };
}

/** Server options the hosting grpc.Server must be created with for this transport's limits. */
export function serverOptionsOf(r: ResolvedOptions): grpc.ServerOptions {
  return {
    "grpc.max_receive_message_length": r.maxMessageBytes,
    "grpc.max_send_message_length": r.maxMessageBytes,
  };
}
