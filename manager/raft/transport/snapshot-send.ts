// Sending one snapshot to a peer over SendSnapshot: the payload cut into chunks, written with
// backpressure, ending with the total size and sha256 of the whole payload.
import { createHash } from "node:crypto";
import type * as grpc from "@grpc/grpc-js";
import type { Message } from "../core/types.js";
import type { SnapshotChunk, StreamAck } from "../../../proto/gen/raft.js";
import { asBuffer, messageToWire } from "./codec.js";
import type { WireClient } from "./wire-client.js";

/** What one snapshot transfer needs. */
export interface SnapshotTransfer {
  clusterId: string;
  /** The Snap message; `snapshot` must be set. */
  message: Message;
  chunkBytes: number;
  deadline: number;
}

/** A running transfer: `done` settles when the peer acknowledged (or the transfer failed). */
export interface RunningTransfer {
  done: Promise<void>;
  /** Aborts the transfer; `done` then rejects. */
  cancel(): void;
}

/** Starts sending `t.message` and its snapshot payload to the peer behind `client`. */
export function sendSnapshot(client: WireClient, t: SnapshotTransfer): RunningTransfer {
  let finish!: (err: grpc.ServiceError | null, ack: StreamAck | undefined) => void;
  const acked = new Promise<StreamAck>((resolve, reject) => {
    finish = (err, ack) => (err || !ack ? reject(err ?? new Error("no acknowledgement")) : resolve(ack));
  });
  acked.catch(() => {}); // observed below; avoid an unhandled rejection while chunks are written
  const call = client.sendSnapshot(t.deadline, finish);
  const done = writeChunks(call, t, acked);
  return { done, cancel: () => call.cancel() };
}

async function writeChunks(
  call: grpc.ClientWritableStream<SnapshotChunk>,
  t: SnapshotTransfer,
  acked: Promise<StreamAck>,
): Promise<void> {
  const msg = t.message;
  const data = msg.snapshot?.data ?? new Uint8Array(0);
  const hash = createHash("sha256");
  let early: unknown = null;
  const ended = acked.then(
    () => (early = new Error("peer answered before the last chunk")),
    (err: unknown) => (early = err ?? new Error("snapshot stream failed")),
  );
  let offset = 0;
  for (;;) {
    if (early !== null) throw early;
    const end = Math.min(offset + t.chunkBytes, data.length);
    const piece = data.subarray(offset, end);
    hash.update(piece);
    const last = end === data.length;
    const chunk: SnapshotChunk = {
      clusterId: t.clusterId,
      from: msg.from,
      to: msg.to,
      message: offset === 0 ? messageToWire(msg) : undefined,
      offset,
      data: asBuffer(piece),
      last,
      totalSize: last ? data.length : 0,
      sha256: last ? hash.digest() : Buffer.alloc(0),
    };
    if (!call.write(chunk)) {
      const drained = new Promise<null>((resolve) => call.once("drain", () => resolve(null)));
      const failure = await Promise.race([drained, ended]);
      if (failure !== null) throw failure;
    }
    if (last) break;
    offset = end;
  }
  call.end();
  const ack = await acked;
  if (ack.received !== data.length) {
    throw new Error(`peer acknowledged ${ack.received} of ${data.length} bytes`);
  }
}
