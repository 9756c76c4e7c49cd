// The outgoing side of the Raft gRPC service for one peer: a grpc.Client and its two
// client-streaming calls. Message batches are written pre-encoded (see batch.ts).
import * as grpc from "@grpc/grpc-js";
import type { SnapshotChunk, StreamAck } from "../../../proto/gen/raft.js";
import { RaftService } from "../../../proto/gen/raft.js";

/** Called once when a call ends: an error, or the peer's acknowledgement. */
export type CallDone = (err: grpc.ServiceError | null, ack: StreamAck | undefined) => void;

const passThrough = (b: Buffer): Buffer => b;

/** A channel to one peer. */
export class WireClient {
  private readonly client: grpc.Client;

  constructor(
    readonly address: string,
    credentials: grpc.ChannelCredentials,
    options: grpc.ChannelOptions,
  ) {
    this.client = new grpc.Client(address, credentials, options);
  }

  /** Opens StreamMessages; writes take encoded MessageBatch bytes. */
  streamMessages(done: CallDone): grpc.ClientWritableStream<Buffer> {
    const m = RaftService.streamMessages;
    const call = this.client.makeClientStreamRequest<Buffer, StreamAck>(
      m.path,
      passThrough,
      m.responseDeserialize,
      new grpc.Metadata(),
      {},
      done,
    );
    // Failures arrive through `done`; a write racing the call's end must not become an uncaught 'error'.
    call.on("error", () => {});
    return call;
  }

  /** Opens SendSnapshot with a deadline (ms since the epoch). */
  sendSnapshot(deadline: number, done: CallDone): grpc.ClientWritableStream<SnapshotChunk> {
    const m = RaftService.sendSnapshot;
    const call = this.client.makeClientStreamRequest<SnapshotChunk, StreamAck>(
      m.path,
      m.requestSerialize,
      m.responseDeserialize,
      new grpc.Metadata(),
      { deadline },
      done,
    );
    call.on("error", () => {});
    return call;
  }

  /** Closes the channel; calls still running are cancelled by their owners beforehand. */
  close(): void {
    this.client.close();
  }
}
