// The Dispatcher service over real gRPC on 127.0.0.1 with insecure credentials, driven by the real
// agent session client. Without TLS, `identify` reads the node id from call metadata.
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { AgentSession } from "../../agent/session/index.js";
import { DispatcherClient, DispatcherService, type ManagerPeer, type SessionMessage } from "../../proto/gen/dispatcher.js";
import type { Node } from "../../proto/gen/objects.js";
import { NodeDescription, NodeRole, NodeState } from "../../proto/gen/types.js";
import { LEADER_ADDR_METADATA } from "../../proto/metadata.js";
import type { MemoryStore } from "../store/index.js";
import { Dispatcher, StatusMessage } from "./dispatcher.js";
import { dispatcherServiceImplementation, type DispatcherApi, type DispatcherGrpcOptions } from "./grpc-adapter.js";
import { addCluster, addNodes, changeNode, newStore, nodeOf, seeded, waitFor } from "./test-support.js";

const insecure = grpc.credentials.createInsecure();
const NODE_ID_METADATA = "test-node-id";
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function identifyFromMetadata(call: { metadata: grpc.Metadata }): { nodeId: string } | null {
  const v = call.metadata.get(NODE_ID_METADATA)[0];
  return typeof v === "string" && v !== "" ? { nodeId: v } : null;
}

function nodeMetadata(nodeId: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(NODE_ID_METADATA, nodeId);
  return md;
}

/** Serves `dispatcher` on 127.0.0.1; returns host:port. */
async function serve(dispatcher: DispatcherApi, opts: Omit<DispatcherGrpcOptions, "identify">): Promise<string> {
  const server = new grpc.Server();
  server.addService(DispatcherService, dispatcherServiceImplementation(dispatcher, { identify: identifyFromMetadata, ...opts }));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanups.push(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

function startDispatcher(store: MemoryStore, managers: () => ManagerPeer[] = () => [], seed = 1): { d: Dispatcher; start(): void } {
  const d = new Dispatcher({ store, managers, random: seeded(seed) });
  const abort = new AbortController();
  cleanups.push(() => abort.abort());
  return { d, start: () => d.start(abort.signal) };
}

interface Agent {
  session: AgentSession;
  sessions: { sessionId: string; manager: string }[];
  nodes: Node[];
  managers: ManagerPeer[][];
  disconnects: string[];
  credentialCalls: number;
  /** Assignments messages received. */
  assignments: number;
}

function startAgent(nodeId: string, managers: string[], seed = 2): Agent {
  const a: Agent = {
    session: undefined as unknown as AgentSession,
    sessions: [],
    nodes: [],
    managers: [],
    disconnects: [],
    credentialCalls: 0,
    assignments: 0,
  };
  a.session = new AgentSession({
    managers,
    credentials: () => {
      a.credentialCalls++;
      return { credentials: insecure, channelOptions: {} };
    },
    describe: async () => NodeDescription.fromPartial({ hostname: `${nodeId}-host`, platform: { os: "linux", architecture: "amd64" } }),
    random: seeded(seed),
    backoff: { initialMs: 5, maxMs: 50 },
    metadata: () => nodeMetadata(nodeId),
  });
  a.session.on("session", (sessionId, manager) => a.sessions.push({ sessionId, manager }));
  a.session.on("node", (n) => a.nodes.push(n));
  a.session.on("managers", (m) => a.managers.push(m));
  a.session.on("disconnected", (reason) => a.disconnects.push(reason));
  a.session.on("assignments", () => a.assignments++);
  a.session.start();
  cleanups.push(() => a.session.stop());
  return a;
}

const stateOf = (store: MemoryStore, id: string): NodeState | undefined => nodeOf(store, id)?.status?.state;

/** A dispatcher that counts heartbeats. */
function counting(d: Dispatcher): { api: DispatcherApi; beats: () => number } {
  let beats = 0;
  return {
    api: {
      get running() {
        return d.running;
      },
      session: (...args) => d.session(...args),
      heartbeat: (nodeId, sessionId) => {
        beats++;
        return d.heartbeat(nodeId, sessionId);
      },
      assignments: (...args) => d.assignments(...args),
      updateTaskStatus: (...args) => d.updateTaskStatus(...args),
    },
    beats: () => beats,
  };
}

describe("sessions over gRPC", () => {
  it("registers the node (READY, description, addr) and heartbeats keep it READY without writes", async () => {
    const { store } = newStore();
    await addCluster(store, 50);
    await addNodes(store, ["n1"]);
    const { d, start } = startDispatcher(store);
    start();
    const { api, beats } = counting(d);
    const addr = await serve(api, { isLeader: () => true, leaderAddr: () => null });
    const agent = startAgent("n1", [addr]);
    await waitFor("a session", () => agent.sessions.length === 1);
    expect(agent.sessions[0]!.manager).toBe(addr);
    const n = nodeOf(store, "n1")!;
    expect(n.status).toEqual({ state: NodeState.NODE_STATE_READY, message: "", addr: "127.0.0.1" });
    expect(n.description?.hostname).toBe("n1-host");
    expect(n.description?.platform).toEqual({ os: "linux", architecture: "amd64" });
    expect(agent.nodes[0]?.status?.state).toBe(NodeState.NODE_STATE_READY);

    const version = n.meta!.version!.index;
    await waitFor("8 heartbeats (more than 3 periods)", () => beats() >= 8);
    expect(stateOf(store, "n1")).toBe(NodeState.NODE_STATE_READY);
    expect(nodeOf(store, "n1")!.meta!.version!.index).toBe(version);
    expect(agent.sessions).toHaveLength(1);
  });

  it("an agent that stops beating is DOWN after 3 periods, and READY again when it comes back", async () => {
    const { store } = newStore();
    await addCluster(store, 40);
    await addNodes(store, ["n1"]);
    const { d, start } = startDispatcher(store);
    start();
    const addr = await serve(d, { isLeader: () => true, leaderAddr: () => null });
    const first = startAgent("n1", [addr]);
    await waitFor("READY", () => first.sessions.length === 1 && stateOf(store, "n1") === NodeState.NODE_STATE_READY);
    await first.session.stop();
    await waitFor("DOWN", () => stateOf(store, "n1") === NodeState.NODE_STATE_DOWN);
    expect(nodeOf(store, "n1")!.status!.message).toBe(StatusMessage.HeartbeatFailure);

    const again = startAgent("n1", [addr]);
    await waitFor("READY again", () => again.sessions.length === 1 && stateOf(store, "n1") === NodeState.NODE_STATE_READY);
  });

  it("sends the node object again when it changes (a promotion)", async () => {
    const { store } = newStore();
    await addCluster(store, 1_000);
    await addNodes(store, ["n1"]);
    const { d, start } = startDispatcher(store);
    start();
    const addr = await serve(d, { isLeader: () => true, leaderAddr: () => null });
    const agent = startAgent("n1", [addr]);
    await waitFor("a session", () => agent.nodes.length === 1);
    expect(agent.nodes[0]!.role).toBe(NodeRole.NODE_ROLE_WORKER);
    await changeNode(store, "n1", (n) => (n.spec!.desiredRole = NodeRole.NODE_ROLE_MANAGER));
    await waitFor("the desired role", () => agent.nodes.at(-1)?.spec?.desiredRole === NodeRole.NODE_ROLE_MANAGER);
    await changeNode(store, "n1", (n) => (n.role = NodeRole.NODE_ROLE_MANAGER));
    await waitFor("the role", () => agent.nodes.at(-1)?.role === NodeRole.NODE_ROLE_MANAGER);
  });

  it("when the leader's dispatcher stops, the agent moves to another manager", async () => {
    const { store } = newStore();
    await addCluster(store, 1_000);
    await addNodes(store, ["n1"]);
    let leader: "A" | "B" = "A";
    const addrs: Record<string, string> = {};
    const peers = (): ManagerPeer[] => [
      { nodeId: "A", addr: addrs["A"]!, leader: leader === "A" },
      { nodeId: "B", addr: addrs["B"]!, leader: leader === "B" },
    ];
    const a = startDispatcher(store, peers, 11);
    const b = startDispatcher(store, peers, 12);
    // No leader known to A once it lost: the agent must find B by itself.
    addrs["A"] = await serve(a.d, { isLeader: () => leader === "A", leaderAddr: () => (leader === "A" ? addrs["A"]! : null) });
    addrs["B"] = await serve(b.d, { isLeader: () => leader === "B", leaderAddr: () => addrs[leader]! });
    a.start();
    const agent = startAgent("n1", [addrs["A"]!]);
    // Fully connected (its Assignments stream too), so the first failure it sees is A's stop.
    await waitFor("a session with A", () => agent.sessions.length === 1 && agent.assignments === 1);
    expect(agent.sessions[0]!.manager).toBe(addrs["A"]);
    expect(agent.managers.at(-1)!.map((p) => p.addr)).toEqual([addrs["A"], addrs["B"]]);

    leader = "B";
    a.d.stop();
    b.start();
    await waitFor("a session with B", () => agent.sessions.length === 2);
    expect(agent.sessions[1]!.manager).toBe(addrs["B"]);
    expect(agent.disconnects[0]).toContain("UNAVAILABLE: dispatcher stopped: leadership moved");
    await waitFor("READY through B", () => stateOf(store, "n1") === NodeState.NODE_STATE_READY);
    expect(b.d.sessionNodes()).toEqual(["n1"]);
    expect(agent.credentialCalls).toBeGreaterThanOrEqual(2);
  });

  it("a follower redirects the agent to the leader", async () => {
    const { store } = newStore();
    await addCluster(store, 1_000);
    await addNodes(store, ["n1"]);
    const leader = startDispatcher(store);
    leader.start();
    const follower = startDispatcher(store); // never started: followers do not run it
    const leaderAddr = await serve(leader.d, { isLeader: () => true, leaderAddr: () => null });
    const followerAddr = await serve(follower.d, { isLeader: () => false, leaderAddr: () => leaderAddr });
    const agent = startAgent("n1", [followerAddr]);
    await waitFor("a session", () => agent.sessions.length === 1);
    expect(agent.sessions[0]!.manager).toBe(leaderAddr);
    expect(agent.disconnects[0]).toContain(`UNAVAILABLE: not the leader: the leader is at ${leaderAddr}`);
  });
});

describe("the adapter's answers", () => {
  async function setup(opts: Partial<DispatcherGrpcOptions> = {}) {
    const { store } = newStore();
    await addCluster(store, 1_000);
    await addNodes(store, ["n1"]);
    const { d, start } = startDispatcher(store);
    start();
    const addr = await serve(d, { isLeader: () => true, leaderAddr: () => null, ...opts });
    const client = new DispatcherClient(addr, insecure);
    cleanups.push(() => client.close());
    return { store, d, client, addr };
  }

  /** Opens a Session stream; resolves with its messages so far once it fails or `count` came. */
  function sessionCall(client: DispatcherClient, nodeId: string | null) {
    const messages: SessionMessage[] = [];
    let error: grpc.ServiceError | null = null;
    const call = client.session({ description: undefined, sessionId: "" }, nodeId ? nodeMetadata(nodeId) : new grpc.Metadata());
    call.on("data", (m: SessionMessage) => messages.push(m));
    call.on("error", (e: grpc.ServiceError) => (error = e));
    cleanups.push(() => call.cancel());
    return { messages, error: () => error };
  }

  function unary<T>(fn: (cb: (e: grpc.ServiceError | null, r?: T) => void) => void): Promise<{ err: grpc.ServiceError | null; res?: T }> {
    return new Promise((resolve) => fn((err, res) => resolve({ err, res })));
  }

  it("refuses a node that is not in the store with NOT_FOUND", async () => {
    const { client } = await setup();
    const s = sessionCall(client, "stranger");
    await waitFor("the refusal", () => s.error() !== null);
    expect(s.error()).toMatchObject({ code: grpc.status.NOT_FOUND, details: "node stranger is not a member of this cluster" });
  });

  it("refuses a caller without identity with UNAUTHENTICATED", async () => {
    const { client } = await setup();
    const s = sessionCall(client, null);
    await waitFor("the refusal", () => s.error() !== null);
    expect(s.error()!.code).toBe(grpc.status.UNAUTHENTICATED);
    const beat = await unary((cb) => client.heartbeat({ sessionId: "x" }, cb));
    expect(beat.err!.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("a second session of the same node ends the first", async () => {
    const { client } = await setup();
    const one = sessionCall(client, "n1");
    await waitFor("the first session", () => one.messages.length === 1);
    const two = sessionCall(client, "n1");
    await waitFor("the first session to end", () => one.error() !== null);
    expect(one.error()!.details).toBe(`session ${one.messages[0]!.sessionId} of node n1 was replaced by a newer session`);
    await waitFor("the second session", () => two.messages.length === 1);
    const stale = await unary((cb) => client.heartbeat({ sessionId: one.messages[0]!.sessionId }, nodeMetadata("n1"), cb));
    expect(stale.err).toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(stale.err!.details).toContain("is not valid (reconnect)");
    const ok = await unary<{ periodMs: number }>((cb) => client.heartbeat({ sessionId: two.messages[0]!.sessionId }, nodeMetadata("n1"), cb));
    expect(ok.err).toBeNull();
    expect(ok.res!.periodMs).toBeGreaterThanOrEqual(900);
  });

  it("a leader whose dispatcher has not started answers UNAVAILABLE naming itself", async () => {
    const { client, d } = await setup({ leaderAddr: () => "10.9.9.9:2377" });
    d.stop();
    const beat = await unary((cb) => client.heartbeat({ sessionId: "x" }, nodeMetadata("n1"), cb));
    expect(beat.err!.code).toBe(grpc.status.UNAVAILABLE);
    expect(beat.err!.details).toContain("not the leader yet");
    expect(beat.err!.metadata.get(LEADER_ADDR_METADATA)).toEqual(["10.9.9.9:2377"]);
  });

  it("a follower without a known leader answers UNAVAILABLE without a redirect", async () => {
    const { client } = await setup({ isLeader: () => false, leaderAddr: () => null });
    const s = sessionCall(client, "n1");
    await waitFor("the refusal", () => s.error() !== null);
    expect(s.error()!.code).toBe(grpc.status.UNAVAILABLE);
    expect(s.error()!.metadata.get(LEADER_ADDR_METADATA)).toEqual([]);
  });

  it("Assignments and UpdateTaskStatus need the caller's current session", async () => {
    const { client } = await setup();
    const update = await unary((cb) => client.updateTaskStatus({ sessionId: "x", updates: [] }, nodeMetadata("n1"), cb));
    expect(update.err).toMatchObject({ code: grpc.status.NOT_FOUND, details: 'session x of node n1 is not valid (reconnect)' });
    const call = client.assignments({ sessionId: "x" }, nodeMetadata("n1"));
    const err = await new Promise<grpc.ServiceError>((resolve) => call.on("error", resolve));
    expect(err).toMatchObject({ code: grpc.status.NOT_FOUND, details: "session x of node n1 is not valid (reconnect)" });
    const anonymous = await unary((cb) => client.updateTaskStatus({ sessionId: "x", updates: [] }, cb));
    expect(anonymous.err!.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});
