// RaftTransport: carries the core's messages between members over gRPC. It owns the peer table,
// routes outgoing messages (normal ones to the peer's stream, snapshots to SendSnapshot), serves
// the Raft service for incoming traffic, and keeps the counters. It never blocks and never logs.
import * as grpc from "@grpc/grpc-js";
import type { Message, NodeId } from "../core/types.js";
import { MessageType, isLocal } from "../core/types.js";
import { RaftService } from "../../../proto/gen/raft.js";
import { TransportError, TransportErrorCode } from "./errors.js";
import type { ResolvedOptions, TransportOptions } from "./options.js";
import { channelOptionsOf, resolveOptions, serverOptionsOf } from "./options.js";
import { Peer } from "./peer.js";
import { Receiver } from "./receiver.js";
import type { DropReason, TransportCounters, TransportStats } from "./stats.js";
import { newCounters, newDropCounts } from "./stats.js";

/** A peer as registered with addPeer/updatePeer. */
export interface PeerInfo {
  id: NodeId;
  address: string;
}

/**
 * The gRPC transport of one Raft member.
 *
 * Callbacks (onMessage, onUnreachable, onSnapshotStatus) are never called synchronously from
 * send(), and not at all after close(). onUnreachable calls for one peer are coalesced per tick.
 */
export class RaftTransport {
  private readonly opts: ResolvedOptions;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly peerTable = new Map<NodeId, Peer>();
  private readonly counters: TransportCounters = newCounters();
  private readonly dropped: Record<DropReason, number> = newDropCounts();
  private readonly receiver: Receiver;
  private readonly pendingUnreachable = new Set<NodeId>();
  private closed = false;

  constructor(options: TransportOptions) {
    this.opts = resolveOptions(options);
    this.channelOptions = channelOptionsOf(this.opts);
    const o = this.opts;
    this.receiver = new Receiver({
      clusterId: o.clusterId,
      localId: o.localId,
      maxSnapshotBytes: o.maxSnapshotBytes,
      isMember: (id) => o.isMember(id),
      onMessage: (msg) => {
        if (!this.closed) o.onMessage(msg);
      },
      counters: this.counters,
      dropped: this.dropped,
    });
  }

  /**
   * Creates a grpc.Server with this transport's limits, serves the Raft service on it and binds
   * `address` (port 0 picks a free port). For tests and benchmarks; the caller shuts the server down.
   */
  static async listen(
    transport: RaftTransport,
    address: string,
    serverCredentials: grpc.ServerCredentials,
  ): Promise<{ server: grpc.Server; port: number }> {
    const server = new grpc.Server(transport.serverOptions());
    transport.addTo(server);
    try {
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(address, serverCredentials, (err, p) => (err ? reject(err) : resolve(p))),
      );
      return { server, port };
    } catch (err) {
      server.forceShutdown();
      throw err;
    }
  }

  /** The grpc handlers of the Raft service, for hosting on a server of the caller's. */
  serviceImplementation(): grpc.UntypedServiceImplementation {
    return this.receiver.handlers();
  }

  /** Adds the Raft service to `server` (create it with serverOptions() so the size limits match). */
  addTo(server: grpc.Server): void {
    server.addService(RaftService, this.serviceImplementation());
  }

  /** Options a hosting grpc.Server must be created with (max message sizes). */
  serverOptions(): grpc.ServerOptions {
    return serverOptionsOf(this.opts);
  }

  /** Registers peer `id` at `address` ("host:port") and starts connecting to it. */
  addPeer(id: NodeId, address: string): void {
    this.checkOpen();
    checkPeer(id, address);
    if (id === this.opts.localId) {
      throw new TransportError(TransportErrorCode.InvalidPeer, `peer id ${id} is the local id`);
    }
    if (this.peerTable.has(id)) throw new TransportError(TransportErrorCode.PeerExists, `peer ${id} already added`);
    this.peerTable.set(id, this.newPeer(id, address));
  }

  /**
   * Moves peer `id` to `address`. Queued messages are kept; the stream reconnects, and a snapshot
   * in flight is abandoned and reported failed. No-op if the address is unchanged.
   */
  updatePeer(id: NodeId, address: string): void {
    this.checkOpen();
    checkPeer(id, address);
    const peer = this.peerTable.get(id);
    if (!peer) throw new TransportError(TransportErrorCode.UnknownPeer, `peer ${id} not added`);
    peer.setAddress(address);
  }

  /** Forgets peer `id`: queued messages are dropped, streams end, no callbacks follow. Idempotent. */
  removePeer(id: NodeId): void {
    const peer = this.peerTable.get(id);
    if (!peer) return;
    this.peerTable.delete(id);
    this.pendingUnreachable.delete(id);
    peer.close();
  }

  /** The registered peers. */
  peers(): PeerInfo[] {
    return [...this.peerTable.values()].map((p) => ({ id: p.id, address: p.address }));
  }

  /** Whether the message stream to `id` is open and accepted by the peer. */
  isConnected(id: NodeId): boolean {
    return this.peerTable.get(id)?.isConnected ?? false;
  }

  /**
   * Sends messages, never blocking. Each goes to its `to` peer's queue (a full queue drops it and
   * reports the peer unreachable); a Snap message goes over its own snapshot stream (one per
   * peer at a time). Messages to unknown peers, local-only messages and messages not from the local
   * id are dropped and counted.
   */
  send(messages: readonly Message[]): void {
    for (const msg of messages) {
      if (this.closed) {
        this.dropped.closed++;
        continue;
      }
      const peer = this.peerTable.get(msg.to);
      if (!peer) {
        this.dropped.unknownPeer++;
        continue;
      }
      if (isLocal(msg.type) || msg.from !== this.opts.localId) {
        this.dropped.invalid++;
        continue;
      }
      if (msg.type === MessageType.Snap) {
        if (!msg.snapshot) this.dropped.invalid++;
        else if (!peer.sendSnapshot(msg)) this.dropped.snapshotBusy++;
        continue;
      }
      if (!peer.enqueue(msg)) {
        this.dropped.queueFull++;
        this.unreachable(msg.to);
      }
    }
  }

  /** Counters, drop counts by reason, and the state of each peer. */
  stats(): TransportStats {
    return {
      ...this.counters,
      dropped: { ...this.dropped },
      peers: [...this.peerTable.values()].map((p) => ({
        id: p.id,
        address: p.address,
        queueLength: p.queueLength,
        connected: p.isConnected,
        snapshotInFlight: p.snapshotInFlight,
      })),
    };
  }

  /**
   * Ends outgoing streams, cancels snapshots, closes channels, stops reconnecting, and ends incoming
   * streams with UNAVAILABLE. No callbacks follow. A server from listen() is the caller's to shut
   * down. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const peer of this.peerTable.values()) peer.close();
    this.peerTable.clear();
    this.pendingUnreachable.clear();
    this.receiver.close();
  }

  private newPeer(id: NodeId, address: string): Peer {
    const o = this.opts;
    return new Peer(id, address, {
      clusterId: o.clusterId,
      localId: o.localId,
      credentials: o.clientCredentials,
      channelOptions: this.channelOptions,
      maxMessageBytes: o.maxMessageBytes,
      queueLimit: o.queueLimit,
      snapshotChunkBytes: o.snapshotChunkBytes,
      snapshotTimeoutMs: o.snapshotTimeoutMs,
      counters: this.counters,
      dropped: this.dropped,
      unreachable: (peerId) => this.unreachable(peerId),
      snapshotStatus: (peerId, ok) =>
        queueMicrotask(() => {
          if (this.isLive(peerId)) o.onSnapshotStatus(peerId, ok);
        }),
    });
  }

  /** Reports `id` unreachable on a later microtask, once however many times it is called meanwhile. */
  private unreachable(id: NodeId): void {
    if (this.pendingUnreachable.size === 0) {
      queueMicrotask(() => {
        const ids = [...this.pendingUnreachable];
        this.pendingUnreachable.clear();
        for (const peerId of ids) if (this.isLive(peerId)) this.opts.onUnreachable(peerId);
      });
    }
    this.pendingUnreachable.add(id);
  }

  private isLive(id: NodeId): boolean {
    return !this.closed && this.peerTable.has(id);
  }

  private checkOpen(): void {
    if (this.closed) throw new TransportError(TransportErrorCode.Closed, "transport is closed");
  }
}

function checkPeer(id: NodeId, address: string): void {
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new TransportError(TransportErrorCode.InvalidPeer, `peer id must be a positive integer, got ${id}`);
  }
  if (typeof address !== "string" || address.length === 0) {
    throw new TransportError(TransportErrorCode.InvalidPeer, `peer ${id} needs an address`);
  }
}
