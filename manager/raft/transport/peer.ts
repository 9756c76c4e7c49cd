// One peer's outgoing side: its bounded queue, the long-lived StreamMessages call that a pump
// feeds with coalesced batches, reconnection with backoff, and its one snapshot slot.
import type * as grpc from "@grpc/grpc-js";
import type { Message, NodeId } from "../core/types.js";
import { Backoff } from "./backoff.js";
import { BatchEncoder } from "./batch.js";
import { BoundedQueue } from "./queue.js";
import type { RunningTransfer } from "./snapshot-send.js";
import { sendSnapshot } from "./snapshot-send.js";
import type { DropReason, TransportCounters } from "./stats.js";
import { WireClient } from "./wire-client.js";

/** What a peer needs from its transport. */
export interface PeerContext {
  clusterId: string;
  localId: NodeId;
  credentials: grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
  maxMessageBytes: number;
  queueLimit: number;
  snapshotChunkBytes: number;
  snapshotTimeoutMs: number;
  counters: TransportCounters;
  dropped: Record<DropReason, number>;
  /** Report lost messages (the transport defers and coalesces these). */
  unreachable(id: NodeId): void;
  /** Report the outcome of a snapshot transfer. */
  snapshotStatus(id: NodeId, ok: boolean): void;
}

/** The outgoing state for one peer id. Created connected-to-be; close() ends it for good. */
export class Peer {
  private client: WireClient;
  private readonly queue: BoundedQueue<Message>;
  private readonly encoder: BatchEncoder;
  private readonly backoff = new Backoff();
  private stream: grpc.ClientWritableStream<Buffer> | null = null;
  private connected = false;
  private waitingDrain = false;
  private flushQueued = false;
  private retry: NodeJS.Timeout | null = null;
  /** The encoding of a message already taken off the queue that did not fit the last batch. */
  private carry: Buffer | null = null;
  private transfer: RunningTransfer | null = null;
  private closed = false;

  constructor(
    readonly id: NodeId,
    address: string,
    private readonly ctx: PeerContext,
  ) {
    this.queue = new BoundedQueue(ctx.queueLimit);
    this.encoder = new BatchEncoder(ctx.clusterId, ctx.localId, id);
    this.client = new WireClient(address, ctx.credentials, ctx.channelOptions);
    this.open();
  }

  get address(): string {
    return this.client.address;
  }

  /** Whether the message stream is open and was accepted by the peer. */
  get isConnected(): boolean {
    return this.connected;
  }

  /** Messages waiting to be written. */
  get queueLength(): number {
    return this.queue.length + (this.carry ? 1 : 0);
  }

  get snapshotInFlight(): boolean {
    return this.transfer !== null;
  }

  /** Queues `msg` for the message stream; false if the queue is full (nothing queued). */
  enqueue(msg: Message): boolean {
    if (this.queueLength >= this.ctx.queueLimit || !this.queue.push(msg)) return false;
    this.scheduleFlush();
    return true;
  }

  /** Starts sending a Snap message and its payload; false if a snapshot is already in flight. */
  sendSnapshot(msg: Message): boolean {
    if (this.transfer) return false;
    const transfer = sendSnapshot(this.client, {
      clusterId: this.ctx.clusterId,
      message: msg,
      chunkBytes: this.ctx.snapshotChunkBytes,
      deadline: Date.now() + this.ctx.snapshotTimeoutMs,
    });
    this.transfer = transfer;
    transfer.done.then(
      () => this.transferDone(transfer, true),
      () => this.transferDone(transfer, false),
    );
    return true;
  }

  /**
   * Points the peer at a new address: the stream and any snapshot in flight are abandoned (the
   * snapshot is reported failed), queued messages are kept and go to the new address.
   */
  setAddress(address: string): void {
    if (this.closed || address === this.client.address) return;
    this.dropStream();
    this.transfer?.cancel();
    this.client.close();
    this.client = new WireClient(address, this.ctx.credentials, this.ctx.channelOptions);
    this.backoff.reset();
    this.open();
  }

  /** Ends the stream, cancels any snapshot, stops reconnecting; no callbacks follow. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const stream = this.stream;
    if (stream && this.connected && !this.waitingDrain) {
      this.stream = null;
      this.connected = false;
      stream.end();
    } else {
      this.dropStream();
    }
    this.transfer?.cancel();
    this.transfer = null;
    this.queue.clear();
    this.carry = null;
    this.client.close();
  }

  private transferDone(transfer: RunningTransfer, ok: boolean): void {
    if (this.closed || this.transfer !== transfer) return;
    this.transfer = null;
    if (ok) {
      this.ctx.counters.snapshotsSent++;
    } else {
      this.ctx.counters.snapshotsFailed++;
      this.ctx.unreachable(this.id);
    }
    this.ctx.snapshotStatus(this.id, ok);
  }

  /** Cancels the current stream (if any) and any pending reconnect, without reporting. */
  private dropStream(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const stream = this.stream;
    this.stream = null;
    this.connected = false;
    this.waitingDrain = false;
    stream?.cancel();
  }

  private open(): void {
    const stream = this.client.streamMessages((err) => this.streamDone(stream, err));
    this.stream = stream;
    this.connected = false;
    this.waitingDrain = false;
    // The peer's handler sends headers as soon as it accepts the stream: only then is it connected.
    stream.on("metadata", () => {
      if (this.stream !== stream) return;
      this.connected = true;
      this.backoff.reset();
      this.scheduleFlush();
    });
  }

  /** The stream ended (any end is a failure: we never end it while the peer is in use). */
  private streamDone(stream: grpc.ClientWritableStream<Buffer>, _err: grpc.ServiceError | null): void {
    if (this.stream !== stream) return;
    this.stream = null;
    this.connected = false;
    this.waitingDrain = false;
    if (this.closed) return;
    this.ctx.counters.streamFailures++;
    this.ctx.unreachable(this.id);
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.closed) this.open();
    }, this.backoff.next());
    this.retry.unref();
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /** Writes queued messages as batches of at most maxMessageBytes until done or backpressured. */
  private flush(): void {
    const stream = this.stream;
    const max = this.ctx.maxMessageBytes;
    const headerSize = this.encoder.header.length;
    const { counters, dropped } = this.ctx;
    while (stream && this.stream === stream && this.connected && !this.waitingDrain && this.queueLength > 0) {
      const fragments: Buffer[] = [];
      let size = headerSize;
      for (;;) {
        let frag = this.carry;
        this.carry = null;
        if (!frag) {
          const msg = this.queue.shift();
          if (!msg) break;
          try {
            frag = this.encoder.fragment(msg);
          } catch {
            dropped.invalid++;
            continue;
          }
          if (headerSize + frag.length > max) {
            dropped.tooLarge++;
            continue;
          }
        }
        if (size + frag.length > max) {
          this.carry = frag;
          break;
        }
        fragments.push(frag);
        size += frag.length;
      }
      if (fragments.length === 0) continue;
      const ok = stream.write(this.encoder.join(fragments, size));
      counters.sentBatches++;
      counters.sentMessages += fragments.length;
      counters.sentBytes += size;
      if (!ok) {
        this.waitingDrain = true;
        stream.once("drain", () => {
          if (this.stream !== stream) return;
          this.waitingDrain = false;
          this.flush();
        });
      }
    }
  }
}
