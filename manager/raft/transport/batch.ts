// Encoding of outgoing MessageBatch bytes. Each message is encoded once, as a MessageBatch that
// holds only that message; protobuf concatenation then merges the header and these fragments into
// one MessageBatch, so a batch's exact size is known before it is written.
import type { Message, NodeId } from "../core/types.js";
import { MessageBatch } from "../../../proto/gen/raft.js";
import { asBuffer, messageToWire } from "./codec.js";

/** Encodes messages for one peer's stream into MessageBatch bytes of bounded size. */
export class BatchEncoder {
  /** The encoded cluster_id/from/to fields shared by every batch of this stream. */
  readonly header: Buffer;

  constructor(clusterId: string, from: NodeId, to: NodeId) {
    this.header = asBuffer(MessageBatch.encode({ clusterId, from, to, messages: [] }).finish());
  }

  /** The `messages` field entry for one message (tag, length, encoded Message). */
  fragment(msg: Message): Buffer {
    return asBuffer(MessageBatch.encode({ clusterId: "", from: 0, to: 0, messages: [messageToWire(msg)] }).finish());
  }

  /** One MessageBatch made of the header and `fragments`; `size` is their total length. */
  join(fragments: Buffer[], size: number): Buffer {
    return Buffer.concat([this.header, ...fragments], size);
  }
}
