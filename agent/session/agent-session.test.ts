// AgentSession against a scripted Dispatcher server on 127.0.0.1 (the real dispatcher is exercised
// with this client in manager/dispatcher/grpc-adapter.test.ts).
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  DispatcherService,
  type DispatcherServer,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type ManagerPeer,
  type SessionMessage,
  type SessionRequest,
} from "../../proto/gen/dispatcher.js";
import { Node } from "../../proto/gen/objects.js";
import { NodeDescription, NodeRole } from "../../proto/gen/types.js";
import { AgentSession } from "./agent-session.js";

const insecure = grpc.credentials.createInsecure();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A scripted manager: what it answers is up to the test. */
interface FakeManager {
  addr: string;
  sessions: grpc.ServerWritableStream<SessionRequest, SessionMessage>[];
  beats: HeartbeatRequest[];
  /** The answer to the next heartbeat; default { periodMs: 10 }. */
  answer: () => Partial<grpc.StatusObject> | HeartbeatResponse;
  /** What to do with a new session; default: send one message. */
  onSession: (call: grpc.ServerWritableStream<SessionRequest, SessionMessage>) => void;
}

const message = (over: Partial<SessionMessage> = {}): SessionMessage => ({
  sessionId: "s1",
  node: Node.fromPartial({ id: "n1" }),
  managers: [],
  heartbeatPeriodMs: 100,
  networkBootstrapKeys: [],
  rootCa: Buffer.alloc(0),
  ...over,
});

async function fakeManager(): Promise<FakeManager> {
  const m: FakeManager = {
    addr: "",
    sessions: [],
    beats: [],
    answer: () => ({ periodMs: 10 }),
    onSession: (call) => call.write(message()),
  };
  const impl: DispatcherServer = {
    session: (call) => {
      m.sessions.push(call);
      m.onSession(call);
    },
    heartbeat: (call, cb) => {
      m.beats.push(call.request);
      const a = m.answer();
      if ("code" in a) cb(a);
      else cb(null, a as HeartbeatResponse);
    },
    assignments: (call) => call.emit("error", { code: grpc.status.UNIMPLEMENTED }),
    updateTaskStatus: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED }),
  };
  const server = new grpc.Server();
  server.addService(DispatcherService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanups.push(() => server.forceShutdown());
  m.addr = `127.0.0.1:${port}`;
  return m;
}

function agent(managers: string[], extra: { rpcTimeoutMs?: number; random?: () => number } = {}) {
  let credentialCalls = 0;
  const events = { sessions: [] as [string, string][], nodes: [] as Node[], managers: [] as ManagerPeer[][], disconnects: [] as string[] };
  const s = new AgentSession({
    managers,
    credentials: () => {
      credentialCalls++;
      return { credentials: insecure, channelOptions: {} };
    },
    describe: async () => NodeDescription.fromPartial({ hostname: "h1" }),
    random: () => 0.5,
    backoff: { initialMs: 2, maxMs: 20 },
    ...extra,
  });
  s.on("session", (id, addr) => events.sessions.push([id, addr]));
  s.on("node", (n) => events.nodes.push(n));
  s.on("managers", (p) => events.managers.push(p));
  s.on("disconnected", (r) => events.disconnects.push(r));
  s.start();
  cleanups.push(() => s.stop());
  return { s, events, credentialCalls: () => credentialCalls };
}

describe("AgentSession", () => {
  it("sends its description and beats at the period each answer names", async () => {
    const m = await fakeManager();
    const a = agent([m.addr]);
    await waitFor("a session", () => a.events.sessions.length === 1);
    expect(a.events.sessions[0]).toEqual(["s1", m.addr]);
    expect(m.sessions[0]!.request.description?.hostname).toBe("h1");
    expect(a.s.session).toEqual({ sessionId: "s1", manager: m.addr });
    // The message says 100 ms; the answers say 10 ms: many beats follow the first one quickly.
    await waitFor("5 beats", () => m.beats.length >= 5);
    expect(m.beats.every((b) => b.sessionId === "s1")).toBe(true);
  });

  it("emits the node from every message and the managers only when they change", async () => {
    const m = await fakeManager();
    const peers = [{ nodeId: "m1", addr: m.addr, leader: true }];
    m.onSession = (call) => {
      call.write(message({ managers: peers }));
      call.write(message({ managers: peers, node: Node.fromPartial({ id: "n1", role: NodeRole.NODE_ROLE_MANAGER }) }));
    };
    const a = agent([m.addr]);
    await waitFor("two node events", () => a.events.nodes.length === 2);
    expect(a.events.nodes[1]!.role).toBe(NodeRole.NODE_ROLE_MANAGER);
    expect(a.events.managers).toEqual([peers]);
  });

  it("after a failed heartbeat it closes the session and opens a new one, with fresh credentials, resuming the id", async () => {
    const m = await fakeManager();
    let failNext = true;
    m.answer = () => {
      if (failNext) {
        failNext = false;
        return { code: grpc.status.NOT_FOUND, details: "session s1 is not valid (reconnect)" };
      }
      return { periodMs: 10 };
    };
    const a = agent([m.addr]);
    await waitFor("a second session", () => a.events.sessions.length === 2);
    expect(a.events.disconnects[0]).toBe(`heartbeat to ${m.addr} failed: NOT_FOUND: session s1 is not valid (reconnect)`);
    expect(a.credentialCalls()).toBe(2);
    expect(m.sessions[1]!.request.sessionId).toBe("s1");
    await waitFor("the first stream to be closed", () => m.sessions[0]!.cancelled);
  });

  it("follows a redirect to the leader named in trailing metadata", async () => {
    const leader = await fakeManager();
    const follower = await fakeManager();
    follower.onSession = (call) => {
      const md = new grpc.Metadata();
      md.set("swarm-leader-addr", leader.addr);
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "not the leader", metadata: md });
    };
    const a = agent([follower.addr]);
    await waitFor("a session", () => a.events.sessions.length === 1);
    expect(a.events.sessions[0]![1]).toBe(leader.addr);
    expect(a.s.managerAddresses()).toEqual([follower.addr, leader.addr]);
  });

  it("moves to another manager when the stream ends, preferring the last leader", async () => {
    const one = await fakeManager();
    const two = await fakeManager();
    const three = await fakeManager();
    // one names two as the leader.
    one.onSession = (call) =>
      call.write(
        message({
          managers: [
            { nodeId: "1", addr: one.addr, leader: false },
            { nodeId: "2", addr: two.addr, leader: true },
            { nodeId: "3", addr: three.addr, leader: false },
          ],
        }),
      );
    const a = agent([one.addr]);
    await waitFor("a session with one", () => a.events.sessions.length === 1);
    one.sessions[0]!.end();
    await waitFor("a session with two", () => a.events.sessions.length === 2);
    expect(a.events.sessions[1]![1]).toBe(two.addr);
    expect(a.events.disconnects[0]).toBe(`session with ${one.addr} ended`);
  });

  it("gives up on a manager that sends no first message in time", async () => {
    const silent = await fakeManager();
    silent.onSession = () => {};
    const other = await fakeManager();
    // random 0: of equally good managers, the first known (silent) is dialed first.
    const a = agent([silent.addr, other.addr], { rpcTimeoutMs: 50, random: () => 0 });
    await waitFor("a session", () => a.events.sessions.length === 1);
    expect(a.events.sessions[0]![1]).toBe(other.addr);
    expect(a.events.disconnects[0]).toBe(`no session message from ${silent.addr} within 50 ms`);
    await waitFor("the silent stream to be closed", () => silent.sessions[0]!.cancelled);
  });

  it("stop() closes the stream and dials no more", async () => {
    const m = await fakeManager();
    const a = agent([m.addr]);
    await waitFor("a session", () => a.events.sessions.length === 1);
    await a.s.stop();
    await waitFor("the stream to be cancelled", () => m.sessions[0]!.cancelled);
    expect(a.s.session).toBeNull();
    expect(m.sessions).toHaveLength(1);
    expect(a.events.disconnects).toEqual([]);
  });
});
