// Linearizable reads without log writes (ReadIndex, §6.4): the leader records the commit index
// for each read, confirms its leadership with a heartbeat round, then releases the reads.
import type { Message, NodeId } from "./types.js";

interface PendingRead {
  index: number;
  req: Message;
  acks: Set<NodeId>;
}

function key(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString("latin1");
}

export class ReadOnly {
  private readonly pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  /** Records a read request at commit index `index`; its context is `req.context`. */
  addRequest(index: number, req: Message): void {
    const k = key(req.context);
    if (this.pending.has(k)) return;
    this.pending.set(k, { index, req, acks: new Set() });
    this.queue.push(k);
  }

  /** Records a heartbeat acknowledgement; returns who has acknowledged this read so far. */
  recvAck(from: NodeId, ctx: Uint8Array): Set<NodeId> | null {
    const rs = this.pending.get(key(ctx));
    if (!rs) return null;
    rs.acks.add(from);
    return rs.acks;
  }

  /** Releases the read with context `ctx` and every read queued before it. */
  advance(ctx: Uint8Array): { index: number; req: Message }[] {
    const k = key(ctx);
    const at = this.queue.indexOf(k);
    if (at < 0) return [];
    const released = this.queue.slice(0, at + 1).map((q) => {
      const rs = this.pending.get(q)!;
      this.pending.delete(q);
      return { index: rs.index, req: rs.req };
    });
    this.queue = this.queue.slice(at + 1);
    return released;
  }

  lastPendingContext(): Uint8Array | null {
    const k = this.queue[this.queue.length - 1];
    return k === undefined ? null : this.pending.get(k)!.req.context;
  }
}
