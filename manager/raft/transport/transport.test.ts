import { createHash, randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { MessageType, message } from "../core/types.js";
import type { Message } from "../core/types.js";
import type { MessageBatch, SnapshotChunk, StreamAck } from "../../../proto/gen/raft.js";
import { RaftClient } from "../../../proto/gen/raft.js";
import { messageToWire } from "./codec.js";
import { TransportError } from "./errors.js";
import { RaftTransport } from "./transport.js";
import { Cleanup, app, closedPort, startNode, waitFor } from "./test-support.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function rawClient(address: string): RaftClient {
  const c = new RaftClient(address, grpc.credentials.createInsecure());
  cleanup.add(() => c.close());
  return c;
}

/** Writes `batches` on a raw StreamMessages call, ends it and returns the acknowledgement. */
function rawBatches(client: RaftClient, batches: MessageBatch[]): Promise<StreamAck> {
  return new Promise((resolve, reject) => {
    const call = client.streamMessages((err, ack) => (err ? reject(err) : resolve(ack)));
    for (const b of batches) call.write(b);
    call.end();
  });
}

/** Writes `chunks` on a raw SendSnapshot call, ends it and returns the outcome. */
function rawChunks(client: RaftClient, chunks: SnapshotChunk[]): Promise<grpc.ServiceError | StreamAck> {
  return new Promise((resolve) => {
    const call = client.sendSnapshot((err, ack) => resolve(err ?? ack));
    call.on("error", () => {});
    for (const c of chunks) call.write(c);
    call.end();
  });
}

function snapMessage(from: number, to: number, data: Uint8Array): Message {
  return message({
    type: MessageType.Snap,
    from,
    to,
    term: 3,
    snapshot: { meta: { index: 100, term: 2, confState: { voters: [1, 2, 3], learners: [4] } }, data },
  });
}

function chunksOf(data: Buffer, msg: Message, size: number, clusterId = "c1"): SnapshotChunk[] {
  const out: SnapshotChunk[] = [];
  for (let off = 0; off < data.length || off === 0; off += size) {
    const piece = data.subarray(off, off + size);
    const last = off + size >= data.length;
    out.push({
      clusterId,
      from: msg.from,
      to: msg.to,
      message: off === 0 ? messageToWire(msg) : undefined,
      offset: off,
      data: piece,
      last,
      totalSize: last ? data.length : 0,
      sha256: last ? createHash("sha256").update(data).digest() : Buffer.alloc(0),
    });
    if (last) break;
  }
  return out;
}

describe("RaftTransport", () => {
  it("delivers messages in order between two transports, both ways", async () => {
    const a = cleanup.track(await startNode(1));
    const b = cleanup.track(await startNode(2));
    a.transport.addPeer(2, b.address);
    b.transport.addPeer(1, a.address);
    await waitFor(() => a.transport.isConnected(2) && b.transport.isConnected(1), "connections");

    for (let i = 0; i < 200; i++) {
      a.transport.send([app(1, 2, i)]);
      b.transport.send([app(2, 1, i)]);
    }
    await waitFor(() => a.received.length === 200 && b.received.length === 200, "200 messages each way");
    expect(b.received.map((m) => m.index)).toEqual([...Array(200).keys()]);
    expect(a.received.map((m) => m.index)).toEqual([...Array(200).keys()]);
    const sent = app(1, 2, 7);
    expect(b.received[7]).toEqual(sent);
    expect(a.transport.stats().sentMessages).toBe(200);
    expect(b.transport.stats().receivedMessages).toBe(200);
    expect(a.unreachable).toEqual([]);
  });

  it("coalesces many messages into batches under maxMessageBytes and delivers them intact", async () => {
    const maxMessageBytes = 256 * 1024;
    const a = cleanup.track(await startNode(1, { maxMessageBytes, snapshotChunkBytes: 64 * 1024 }));
    const b = cleanup.track(await startNode(2, { maxMessageBytes, snapshotChunkBytes: 64 * 1024 }));
    a.transport.addPeer(2, b.address);
    await waitFor(() => a.transport.isConnected(2), "connection");

    const msgs = Array.from({ length: 3000 }, (_, i) => app(1, 2, i, 1000 + (i % 7)));
    a.transport.send(msgs);
    await waitFor(() => b.received.length === 3000, "3000 messages");
    // Deep-comparing 3 MB of Uint8Arrays element by element is slow: compare bytes, then a sample.
    const bytes = (ms: Message[]) => Buffer.concat(ms.flatMap((m) => m.entries.map((e) => e.data)));
    expect(b.received.map((m) => m.index)).toEqual(msgs.map((m) => m.index));
    expect(bytes(b.received).equals(bytes(msgs))).toBe(true);
    for (const i of [0, 1, 1234, 2999]) expect(b.received[i]).toEqual(msgs[i]);
    const s = a.transport.stats();
    expect(s.sentMessages).toBe(3000);
    // ~3 MB of payload in batches of at most 256 KiB: more than a dozen batches, far fewer than messages.
    expect(s.sentBatches).toBeGreaterThanOrEqual(12);
    expect(s.sentBatches).toBeLessThan(100);
    expect(s.sentBytes / s.sentBatches).toBeLessThanOrEqual(maxMessageBytes);
    expect(b.transport.stats().receivedBatches).toBe(s.sentBatches);
  });

  it("keeps writing through grpc backpressure (many more batches than the stream buffers)", async () => {
    const opts = { maxMessageBytes: 64 * 1024, snapshotChunkBytes: 16 * 1024 };
    const a = cleanup.track(await startNode(1, opts));
    const b = cleanup.track(await startNode(2, opts));
    a.transport.addPeer(2, b.address);
    await waitFor(() => a.transport.isConnected(2), "connection");
    const total = 4000;
    a.transport.send(Array.from({ length: total }, (_, i) => app(1, 2, i, 4096)));
    await waitFor(() => b.received.length === total, `${total} messages`);
    expect(b.received.map((m) => m.index)).toEqual([...Array(total).keys()]);
    expect(b.received.every((m) => m.entries[0]!.data.every((x) => x === m.index % 251))).toBe(true);
    expect(a.transport.stats().sentBatches).toBeGreaterThan(200);
    expect(a.transport.stats().dropped.queueFull).toBe(0);
  });

  it("drops and counts a message larger than maxMessageBytes, and keeps the rest flowing", async () => {
    const opts = { maxMessageBytes: 64 * 1024, snapshotChunkBytes: 16 * 1024 };
    const a = cleanup.track(await startNode(1, opts));
    const b = cleanup.track(await startNode(2, opts));
    a.transport.addPeer(2, b.address);
    await waitFor(() => a.transport.isConnected(2), "connection");
    a.transport.send([app(1, 2, 1), app(1, 2, 2, 100 * 1024), app(1, 2, 3)]);
    await waitFor(() => b.received.length === 2, "two messages");
    expect(b.received.map((m) => m.index)).toEqual([1, 3]);
    expect(a.transport.stats().dropped.tooLarge).toBe(1);
  });

  it("drops and counts batches from another cluster, to another member, or from a non-member", async () => {
    const b = cleanup.track(await startNode(2));
    const client = rawClient(b.address);
    const wire = (from: number, to: number) => messageToWire(app(from, to, 1));
    const ack = await rawBatches(client, [
      { clusterId: "other", from: 1, to: 2, messages: [wire(1, 2)] },
      { clusterId: "c1", from: 1, to: 3, messages: [wire(1, 3), wire(1, 3)] },
      { clusterId: "c1", from: 9, to: 2, messages: [wire(9, 2)] },
      { clusterId: "c1", from: 1, to: 2, messages: [wire(1, 2)] },
    ]);
    expect(ack.received).toBe(1);
    expect(b.received).toHaveLength(1);
    const d = b.transport.stats().dropped;
    expect(d.wrongCluster).toBe(1);
    expect(d.wrongTarget).toBe(2);
    expect(d.unknownMember).toBe(1);
  });

  it("drops messages whose sender disagrees with the batch, and local-only or snapshot types", async () => {
    const b = cleanup.track(await startNode(2));
    const client = rawClient(b.address);
    const ack = await rawBatches(client, [
      {
        clusterId: "c1",
        from: 1,
        to: 2,
        messages: [
          messageToWire(app(3, 2, 1)),
          messageToWire(message({ type: MessageType.Hup, from: 1, to: 2 })),
          messageToWire(snapMessage(1, 2, new Uint8Array(0))),
          { ...messageToWire(app(1, 2, 1)), type: 99 },
          messageToWire(app(1, 2, 5)),
        ],
      },
    ]);
    expect(ack.received).toBe(1);
    expect(b.received.map((m) => m.index)).toEqual([5]);
    expect(b.transport.stats().dropped.malformed).toBe(4);
  });

  it("drops and counts messages to unknown peers, and invalid ones", async () => {
    const a = cleanup.track(await startNode(1));
    a.transport.send([app(1, 5, 1), app(1, 6, 2)]);
    expect(a.transport.stats().dropped.unknownPeer).toBe(2);
    a.transport.addPeer(2, "127.0.0.1:1");
    a.transport.send([
      app(3, 2, 1),
      message({ type: MessageType.Beat, from: 1, to: 2 }),
      message({ type: MessageType.Snap, from: 1, to: 2 }),
    ]);
    expect(a.transport.stats().dropped.invalid).toBe(3);
    expect(a.transport.stats().peers[0]!.queueLength).toBe(0);
  });

  it("a full queue drops, counts and reports the peer unreachable without blocking", async () => {
    const a = cleanup.track(await startNode(1, { queueLimit: 10 }));
    a.transport.addPeer(2, `127.0.0.1:${await closedPort()}`);
    a.transport.send(Array.from({ length: 25 }, (_, i) => app(1, 2, i)));
    // send() returned: everything is already accounted for.
    const s = a.transport.stats();
    expect(s.dropped.queueFull).toBe(15);
    expect(s.peers).toEqual([
      { id: 2, address: a.transport.peers()[0]!.address, queueLength: 10, connected: false, snapshotInFlight: false },
    ]);
    await waitFor(() => a.unreachable.includes(2), "onUnreachable(2)");
    await waitFor(() => a.transport.stats().streamFailures >= 2, "reconnect attempts");
    expect(a.transport.isConnected(2)).toBe(false);
    expect(a.transport.stats().peers[0]!.queueLength).toBe(10);
  });

  it("reconnects to a peer that went away and came back, and delivery resumes", async () => {
    const a = cleanup.track(await startNode(1));
    const b = cleanup.track(await startNode(2));
    a.transport.addPeer(2, b.address);
    a.transport.send([app(1, 2, 1)]);
    await waitFor(() => b.received.length === 1, "first message");

    b.transport.close();
    b.server.forceShutdown();
    await waitFor(() => !a.transport.isConnected(2), "disconnect");
    await waitFor(() => a.unreachable.includes(2), "onUnreachable(2)");
    a.transport.send([app(1, 2, 2), app(1, 2, 3)]);

    const b2 = cleanup.track(await startNode(2, { port: b.port }));
    await waitFor(() => a.transport.isConnected(2), "reconnection");
    a.transport.send([app(1, 2, 4)]);
    await waitFor(() => b2.received.length === 3, "messages after reconnection");
    expect(b2.received.map((m) => m.index)).toEqual([2, 3, 4]);
    expect(a.transport.stats().streamFailures).toBeGreaterThanOrEqual(1);
  });

  it("sends a 24 MiB snapshot in chunks; it arrives intact and the status is reported", async () => {
    const a = cleanup.track(await startNode(1));
    const b = cleanup.track(await startNode(2));
    a.transport.addPeer(2, b.address);
    const data = randomBytes(24 * 1024 * 1024);
    const snap = snapMessage(1, 2, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    a.transport.send([snap, app(1, 2, 1)]);
    expect(a.transport.stats().peers[0]!.snapshotInFlight).toBe(true);
    a.transport.send([snapMessage(1, 2, new Uint8Array(10))]);
    expect(a.transport.stats().dropped.snapshotBusy).toBe(1);

    await waitFor(() => a.snapshotStatus.length === 1, "snapshot status", 60_000);
    expect(a.snapshotStatus).toEqual([{ id: 2, ok: true }]);
    const got = b.received.find((m) => m.type === MessageType.Snap)!;
    expect(got.snapshot!.meta).toEqual(snap.snapshot!.meta);
    expect(got.snapshot!.data.length).toBe(data.length);
    expect(Buffer.from(got.snapshot!.data).equals(data)).toBe(true);
    expect({ ...got, snapshot: null }).toEqual({ ...snap, snapshot: null });
    expect(a.transport.stats().snapshotsSent).toBe(1);
    expect(b.transport.stats().snapshotsReceived).toBe(1);
    expect(a.transport.stats().peers[0]!.snapshotInFlight).toBe(false);
  });

  it("sends an empty snapshot payload", async () => {
    const a = cleanup.track(await startNode(1));
    const b = cleanup.track(await startNode(2));
    a.transport.addPeer(2, b.address);
    a.transport.send([snapMessage(1, 2, new Uint8Array(0))]);
    await waitFor(() => a.snapshotStatus.length === 1, "snapshot status");
    expect(a.snapshotStatus).toEqual([{ id: 2, ok: true }]);
    expect(b.received[0]!.snapshot!.data.length).toBe(0);
  });

  it("reports a refused snapshot as failed and the peer unreachable", async () => {
    const a = cleanup.track(await startNode(1));
    const b = cleanup.track(await startNode(2, { members: [2, 3] }));
    a.transport.addPeer(2, b.address);
    a.transport.send([snapMessage(1, 2, randomBytes(3 * 1024 * 1024))]);
    await waitFor(() => a.snapshotStatus.length === 1, "snapshot status");
    expect(a.snapshotStatus).toEqual([{ id: 2, ok: false }]);
    expect(a.unreachable).toContain(2);
    expect(a.transport.stats().snapshotsFailed).toBe(1);
    expect(b.transport.stats().dropped.unknownMember).toBe(1);
    expect(b.received).toEqual([]);
  });

  it("rejects a snapshot larger than maxSnapshotBytes", async () => {
    const b = cleanup.track(await startNode(2, { maxSnapshotBytes: 1000 }));
    const data = randomBytes(1500);
    const res = await rawChunks(rawClient(b.address), chunksOf(data, snapMessage(1, 2, data), 500));
    expect((res as grpc.ServiceError).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(b.transport.stats().dropped.badSnapshot).toBe(1);
    expect(b.received).toEqual([]);
  });

  it("rejects corrupted chunk streams with a gRPC error and counts them", async () => {
    const b = cleanup.track(await startNode(2));
    const client = rawClient(b.address);
    const data = randomBytes(100_000);
    const msg = snapMessage(1, 2, data);
    const good = () => chunksOf(data, msg, 30_000);

    const flipped = good();
    flipped[1] = { ...flipped[1]!, data: Buffer.from(flipped[1]!.data).fill(0, 0, 1) };
    flipped[1]!.data[0] = flipped[1]!.data[0]! ^ 0xff;
    const gap = good();
    gap.splice(1, 1);
    const short = good();
    short[short.length - 1] = { ...short[short.length - 1]!, totalSize: data.length + 1 };
    const truncated = good().slice(0, 2);
    const headless = good().slice(1);

    const cases: Array<[SnapshotChunk[], grpc.status]> = [
      [flipped, grpc.status.DATA_LOSS],
      [gap, grpc.status.INVALID_ARGUMENT],
      [short, grpc.status.DATA_LOSS],
      [truncated, grpc.status.INVALID_ARGUMENT],
      [headless, grpc.status.INVALID_ARGUMENT],
    ];
    for (const [chunks, code] of cases) {
      const res = await rawChunks(client, chunks);
      expect((res as grpc.ServiceError).code).toBe(code);
    }
    expect(b.transport.stats().dropped.badSnapshot).toBe(cases.length);
    expect(b.received).toEqual([]);

    const ok = await rawChunks(client, good());
    expect((ok as StreamAck).received).toBe(data.length);
    expect(b.received).toHaveLength(1);
  });

  it("refuses snapshot chunks from strangers", async () => {
    const b = cleanup.track(await startNode(2));
    const client = rawClient(b.address);
    const data = randomBytes(10);
    const wrongCluster = await rawChunks(client, chunksOf(data, snapMessage(1, 2, data), 5, "other"));
    const wrongTarget = await rawChunks(client, chunksOf(data, snapMessage(1, 3, data), 5));
    const stranger = await rawChunks(client, chunksOf(data, snapMessage(7, 2, data), 5));
    for (const res of [wrongCluster, wrongTarget, stranger]) {
      expect((res as grpc.ServiceError).code).toBe(grpc.status.PERMISSION_DENIED);
    }
    const d = b.transport.stats().dropped;
    expect([d.wrongCluster, d.wrongTarget, d.unknownMember]).toEqual([1, 1, 1]);
    expect(b.received).toEqual([]);
  });

  it("moves a peer to a new address and keeps its queue", async () => {
    const a = cleanup.track(await startNode(1));
    const b = cleanup.track(await startNode(2));
    a.transport.addPeer(2, `127.0.0.1:${await closedPort()}`);
    a.transport.send([app(1, 2, 1)]);
    expect(a.transport.stats().peers[0]!.queueLength).toBe(1);
    a.transport.updatePeer(2, b.address);
    expect(a.transport.peers()).toEqual([{ id: 2, address: b.address }]);
    await waitFor(() => b.received.length === 1, "message at the new address");
  });

  it("validates peers and options, and close() is idempotent and final", async () => {
    const a = cleanup.track(await startNode(1));
    expect(() => a.transport.addPeer(1, "127.0.0.1:1")).toThrow(TransportError);
    a.transport.addPeer(2, "127.0.0.1:1");
    expect(() => a.transport.addPeer(2, "127.0.0.1:1")).toThrow(expect.objectContaining({ code: "PEER_EXISTS" }));
    expect(() => a.transport.updatePeer(3, "127.0.0.1:1")).toThrow(expect.objectContaining({ code: "UNKNOWN_PEER" }));
    a.transport.removePeer(2);
    a.transport.removePeer(2);
    expect(a.transport.peers()).toEqual([]);
    expect(
      () =>
        new RaftTransport({
          clusterId: "c1",
          localId: 1,
          clientCredentials: grpc.credentials.createInsecure(),
          maxMessageBytes: 1024 * 1024,
          snapshotChunkBytes: 1024 * 1024,
          isMember: () => true,
          onMessage: () => {},
          onUnreachable: () => {},
          onSnapshotStatus: () => {},
        }),
    ).toThrow(expect.objectContaining({ code: "INVALID_OPTIONS" }));

    a.transport.addPeer(3, "127.0.0.1:1");
    a.transport.close();
    a.transport.close();
    expect(a.transport.peers()).toEqual([]);
    a.transport.send([app(1, 3, 1)]);
    expect(a.transport.stats().dropped.closed).toBe(1);
    expect(() => a.transport.addPeer(4, "127.0.0.1:1")).toThrow(expect.objectContaining({ code: "CLOSED" }));
  });

  it("ends incoming streams when closed, and the sender notices", async () => {
    const a = cleanup.track(await startNode(1));
    const b = cleanup.track(await startNode(2));
    a.transport.addPeer(2, b.address);
    await waitFor(() => a.transport.isConnected(2), "connection");
    b.transport.close();
    await waitFor(() => a.unreachable.includes(2), "onUnreachable(2)");
    a.transport.send([app(1, 2, 1)]);
    // The server still runs, but the closed transport refuses every new stream.
    await waitFor(() => a.transport.stats().streamFailures >= 3, "refused reconnections");
    expect(a.transport.isConnected(2)).toBe(false);
    expect(a.transport.stats().peers[0]!.queueLength).toBe(1);
    expect(b.received).toEqual([]);
  });
});
