// Helpers shared by the transport's tests: bounded polling, throwaway transports on loopback
// ports, and message builders. Not part of the library's API.
import * as net from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { Message, NodeId } from "../core/types.js";
import { MessageType, message } from "../core/types.js";
import type { TransportOptions } from "./options.js";
import { RaftTransport } from "./transport.js";

/** Polls `cond` every 5 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A transport listening on 127.0.0.1 with everything its callbacks saw. */
export interface TestNode {
  id: NodeId;
  transport: RaftTransport;
  server: grpc.Server;
  port: number;
  address: string;
  received: Message[];
  unreachable: NodeId[];
  snapshotStatus: Array<{ id: NodeId; ok: boolean }>;
  members: Set<NodeId>;
}

/** Options of a test node, minus the callbacks it records itself. */
export type NodeOptions = Partial<Omit<TransportOptions, "onMessage" | "onUnreachable" | "onSnapshotStatus" | "isMember">> & {
  members?: NodeId[];
  port?: number;
  serverCredentials?: grpc.ServerCredentials;
};

/** Collects what must be shut down after each test. */
export class Cleanup {
  private readonly nodes: TestNode[] = [];
  private readonly others: Array<() => void> = [];

  track(node: TestNode): TestNode {
    this.nodes.push(node);
    return node;
  }

  add(fn: () => void): void {
    this.others.push(fn);
  }

  run(): void {
    for (const n of this.nodes.splice(0)) {
      n.transport.close();
      n.server.forceShutdown();
    }
    for (const fn of this.others.splice(0)) fn();
  }
}

/** Starts a transport for member `id` of cluster "c1" (members 1, 2, 3 unless told). */
export async function startNode(id: NodeId, o: NodeOptions = {}): Promise<TestNode> {
  const members = new Set(o.members ?? [1, 2, 3]);
  const node: Partial<TestNode> & Pick<TestNode, "received" | "unreachable" | "snapshotStatus"> = {
    id,
    received: [],
    unreachable: [],
    snapshotStatus: [],
    members,
  };
  const transport = new RaftTransport({
    clusterId: "c1",
    localId: id,
    clientCredentials: grpc.credentials.createInsecure(),
    ...o,
    isMember: (m) => members.has(m),
    onMessage: (msg) => node.received.push(msg),
    onUnreachable: (m) => node.unreachable.push(m),
    onSnapshotStatus: (m, ok) => node.snapshotStatus.push({ id: m, ok }),
  });
  const { server, port } = await RaftTransport.listen(
    transport,
    `127.0.0.1:${o.port ?? 0}`,
    o.serverCredentials ?? grpc.ServerCredentials.createInsecure(),
  );
  return Object.assign(node, { transport, server, port, address: `127.0.0.1:${port}` }) as TestNode;
}

/** An App message numbered by `index`, with `size` bytes of entry data. */
export function app(from: NodeId, to: NodeId, index: number, size = 8): Message {
  const data = new Uint8Array(size).fill(index % 251);
  return message({
    type: MessageType.App,
    from,
    to,
    term: 1,
    index,
    logTerm: 1,
    commit: index,
    entries: [{ term: 1, index: index + 1, type: 0, data }],
  });
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

