// The incoming side of the Raft gRPC service: handlers for StreamMessages and SendSnapshot that
// admit only traffic of our cluster, addressed to us, from members, and hand it to onMessage.
import * as grpc from "@grpc/grpc-js";
import type { Message, NodeId } from "../core/types.js";
import { MessageType, isLocal } from "../core/types.js";
import type { MessageBatch, RaftServer, SnapshotChunk, StreamAck } from "../../../proto/gen/raft.js";
import { messageFromWire } from "./codec.js";
import { SnapshotError, SnapshotErrorCode } from "./errors.js";
import { SnapshotAssembler } from "./snapshot-assembler.js";
import type { TransportCounters } from "./stats.js";
import { DropReason } from "./stats.js";

/** What the receiving side needs from its transport. */
export interface ReceiverContext {
  clusterId: string;
  localId: NodeId;
  maxSnapshotBytes: number;
  isMember(id: NodeId): boolean;
  onMessage(msg: Message): void;
  counters: TransportCounters;
  dropped: Record<DropReason, number>;
}

type Reply = (err: grpc.ServerErrorResponse | null, ack?: StreamAck) => void;

/** Handles incoming streams until closed; then refuses new ones and ends open ones. */
export class Receiver {
  private readonly open = new Set<() => void>();
  private closed = false;

  constructor(private readonly ctx: ReceiverContext) {}

  /** The grpc handlers of the Raft service. */
  handlers(): RaftServer {
    return {
      streamMessages: (call, callback) => this.streamMessages(call, callback),
      sendSnapshot: (call, callback) => this.sendSnapshot(call, callback),
    };
  }

  /** Ends every open incoming stream with UNAVAILABLE; later streams are refused. Idempotent. */
  close(): void {
    this.closed = true;
    for (const abort of [...this.open]) abort();
  }

  /** Why a batch or chunk header is not admitted, or null if it is. */
  private admit(h: { clusterId: string; from: number; to: number }): DropReason | null {
    if (h.clusterId !== this.ctx.clusterId) return DropReason.WrongCluster;
    if (h.to !== this.ctx.localId) return DropReason.WrongTarget;
    if (!this.ctx.isMember(h.from)) return DropReason.UnknownMember;
    return null;
  }

  /** Tracks one call so close() can end it; returns the once-only reply. */
  private track(call: grpc.ServerReadableStream<unknown, StreamAck>, callback: Reply): Reply | null {
    if (this.closed) {
      callback(status(grpc.status.UNAVAILABLE, "raft transport closed"));
      return null;
    }
    let settled = false;
    const reply: Reply = (err, ack) => {
      if (settled) return;
      settled = true;
      this.open.delete(abort);
      callback(err, ack);
    };
    const abort = (): void => reply(status(grpc.status.UNAVAILABLE, "raft transport closed"));
    this.open.add(abort);
    const gone = (): void => {
      settled = true;
      this.open.delete(abort);
    };
    call.on("cancelled", gone);
    call.on("error", gone);
    // Tell the sender right away that the stream is accepted (it starts writing on this).
    call.sendMetadata(new grpc.Metadata());
    return reply;
  }

  private streamMessages(call: grpc.ServerReadableStream<MessageBatch, StreamAck>, callback: Reply): void {
    const reply = this.track(call, callback);
    if (!reply) return;
    const { counters, dropped } = this.ctx;
    let received = 0;
    let done = false;
    call.on("data", (batch: MessageBatch) => {
      if (done) return;
      const reason = this.admit(batch);
      if (reason) {
        dropped[reason] += batch.messages.length;
        return;
      }
      counters.receivedBatches++;
      for (const w of batch.messages) {
        let msg: Message;
        try {
          msg = messageFromWire(w);
        } catch {
          dropped.malformed++;
          continue;
        }
        // Local-only types must never come from the network; snapshots come only over SendSnapshot.
        if (msg.from !== batch.from || msg.to !== batch.to || isLocal(msg.type) || msg.type === MessageType.Snap) {
          dropped.malformed++;
          continue;
        }
        received++;
        counters.receivedMessages++;
        this.ctx.onMessage(msg);
      }
    });
    call.on("end", () => {
      done = true;
      reply(null, { received });
    });
    call.on("cancelled", () => (done = true));
    call.on("error", () => (done = true));
  }

  private sendSnapshot(call: grpc.ServerReadableStream<SnapshotChunk, StreamAck>, callback: Reply): void {
    const reply = this.track(call, callback);
    if (!reply) return;
    const { counters, dropped } = this.ctx;
    let assembler: SnapshotAssembler | null = new SnapshotAssembler(this.ctx.maxSnapshotBytes);
    const reject = (reason: DropReason, err: grpc.ServerErrorResponse): void => {
      assembler = null;
      dropped[reason]++;
      reply(err);
    };
    call.on("data", (chunk: SnapshotChunk) => {
      if (!assembler) return;
      const reason = this.admit(chunk);
      if (reason) {
        reject(reason, status(grpc.status.PERMISSION_DENIED, `snapshot chunk refused: ${reason}`));
        return;
      }
      try {
        assembler.push(chunk);
      } catch (err) {
        reject(DropReason.BadSnapshot, snapshotStatus(err));
      }
    });
    call.on("end", () => {
      if (!assembler) return;
      let msg: Message;
      try {
        msg = assembler.finish();
      } catch (err) {
        reject(DropReason.BadSnapshot, snapshotStatus(err));
        return;
      }
      const size = assembler.size;
      assembler = null;
      counters.snapshotsReceived++;
      counters.receivedMessages++;
      this.ctx.onMessage(msg);
      reply(null, { received: size });
    });
    const drop = (): void => {
      assembler = null;
    };
    call.on("cancelled", drop);
    call.on("error", drop);
  }
}

function status(code: grpc.status, details: string): grpc.ServerErrorResponse {
  return Object.assign(new Error(details), { code, details });
}

function snapshotStatus(err: unknown): grpc.ServerErrorResponse {
  if (err instanceof SnapshotError) {
    const code =
      err.code === SnapshotErrorCode.TooLarge
        ? grpc.status.RESOURCE_EXHAUSTED
        : err.code === SnapshotErrorCode.ChecksumMismatch || err.code === SnapshotErrorCode.SizeMismatch
          ? grpc.status.DATA_LOSS
          : grpc.status.INVALID_ARGUMENT;
    return status(code, `bad snapshot (${err.code}): ${err.message}`);
  }
  return status(grpc.status.INVALID_ARGUMENT, `bad snapshot: ${err instanceof Error ? err.message : String(err)}`);
}
