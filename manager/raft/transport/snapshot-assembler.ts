// Reassembly of one incoming snapshot from its chunks, with the checks that make a truncated,
// reordered, oversized or corrupted stream fail: contiguous offsets, a size limit, the declared
// total size and the sha256 of the whole payload.
import { createHash, type Hash } from "node:crypto";
import type { Message } from "../core/types.js";
import { MessageType } from "../core/types.js";
import type { Message as WireMessage, SnapshotChunk } from "../../../proto/gen/raft.js";
import { messageFromWire } from "./codec.js";
import { SnapshotError, SnapshotErrorCode } from "./errors.js";

/** Collects the chunks of one SendSnapshot stream. */
export class SnapshotAssembler {
  private head: WireMessage | null = null;
  private from = 0;
  private readonly pieces: Buffer[] = [];
  private received = 0;
  private readonly hash: Hash = createHash("sha256");
  private complete: Message | null = null;

  constructor(private readonly maxBytes: number) {}

  /** Bytes of payload received so far. */
  get size(): number {
    return this.received;
  }

  /**
   * Adds the next chunk (its cluster, target and sender already checked by the caller).
   * Returns the whole message, with `snapshot.data` set, once the last chunk is in; null before.
   * Throws SnapshotError on any inconsistency, or CodecError on an undecodable message.
   */
  push(chunk: SnapshotChunk): Message | null {
    if (this.complete) fail(SnapshotErrorCode.AfterLast, "chunk after the last one");
    if (this.head === null) {
      const m = chunk.message;
      if (!m || m.type !== MessageType.Snap || !m.snapshot) {
        fail(SnapshotErrorCode.MissingMessage, "the first chunk must carry a Snap message with snapshot metadata");
      }
      if (m.from !== chunk.from || m.to !== chunk.to) {
        fail(SnapshotErrorCode.SenderChanged, "the message's from/to differ from the chunk's");
      }
      this.head = m;
      this.from = chunk.from;
    } else if (chunk.from !== this.from) {
      fail(SnapshotErrorCode.SenderChanged, `chunk from ${chunk.from} in a stream from ${this.from}`);
    }
    if (chunk.offset !== this.received) {
      fail(SnapshotErrorCode.NonContiguous, `chunk at offset ${chunk.offset}, expected ${this.received}`);
    }
    if (this.received + chunk.data.length > this.maxBytes) {
      fail(SnapshotErrorCode.TooLarge, `snapshot exceeds ${this.maxBytes} bytes`);
    }
    if (chunk.data.length > 0) {
      this.pieces.push(chunk.data);
      this.hash.update(chunk.data);
      this.received += chunk.data.length;
    }
    if (!chunk.last) return null;
    if (chunk.totalSize !== this.received) {
      fail(SnapshotErrorCode.SizeMismatch, `received ${this.received} bytes, sender declared ${chunk.totalSize}`);
    }
    if (!this.hash.digest().equals(chunk.sha256)) {
      fail(SnapshotErrorCode.ChecksumMismatch, "sha256 of the payload does not match");
    }
    const data = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.received);
    this.pieces.length = 0;
    this.complete = messageFromWire(this.head, data);
    return this.complete;
  }

  /** Throws SnapshotError(INCOMPLETE) unless the last chunk has been pushed. */
  finish(): Message {
    if (!this.complete) fail(SnapshotErrorCode.Incomplete, "stream ended before the last chunk");
    return this.complete;
  }
}

function fail(code: SnapshotErrorCode, message: string): never {
  throw new SnapshotError(code, message);
}
