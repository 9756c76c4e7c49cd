// The Dispatcher without gRPC: sessions and heartbeats over a real store, on a fake clock that the
// tests move by hand (they call checkHeartbeats() after moving it).
import { afterEach, describe, expect, it } from "vitest";
import type { ManagerPeer, SessionMessage } from "../../proto/gen/dispatcher.js";
import { Cluster } from "../../proto/gen/objects.js";
import { NodeDescription, NodeRole, NodeState } from "../../proto/gen/types.js";
import { StoreError, StoreErrorCode, type MemoryStore, type StoreObject } from "../store/index.js";
import { Dispatcher, StatusMessage, peerIp } from "./dispatcher.js";
import { Awaited } from "./heartbeats.js";
import { addCluster, addNodes, changeNode, newStore, nodeOf, seeded, waitFor, type CountingProposer } from "./test-support.js";

const PERIOD = 1_000;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

interface Harness {
  store: MemoryStore;
  proposals: CountingProposer;
  d: Dispatcher;
  clock: { t: number };
  managers: ManagerPeer[];
  /** Moves the fake clock and runs the expiry check. */
  advance(ms: number): void;
}

async function setup(nodeIds: string[] = ["n1"], opts: { cluster?: boolean; start?: boolean } = {}): Promise<Harness> {
  const { store, proposals } = newStore();
  if (opts.cluster !== false) await addCluster(store, PERIOD);
  await addNodes(store, nodeIds);
  const clock = { t: 0 };
  const managers: ManagerPeer[] = [{ nodeId: "m1", addr: "10.0.0.1:2377", leader: true }];
  const d = new Dispatcher({ store, now: () => clock.t, random: seeded(1), managers: () => managers.map((m) => ({ ...m })) });
  const abort = new AbortController();
  cleanups.push(() => abort.abort());
  if (opts.start !== false) d.start(abort.signal);
  return {
    store,
    proposals,
    d,
    clock,
    managers,
    advance(ms) {
      clock.t += ms;
      d.checkHeartbeats();
    },
  };
}

interface OpenSession {
  messages: SessionMessage[];
  done: Promise<void>;
  outcome: { settled: boolean; error: unknown };
  abort: AbortController;
  /** The first message (waits for it). */
  first(): Promise<SessionMessage>;
}

function open(d: Dispatcher, nodeId: string, opts: { peer?: string; hostname?: string; sessionId?: string } = {}): OpenSession {
  const messages: SessionMessage[] = [];
  const abort = new AbortController();
  cleanups.push(() => abort.abort());
  const outcome = { settled: false, error: undefined as unknown };
  const done = d.session(
    nodeId,
    opts.peer ?? "10.1.2.3:40000",
    { description: NodeDescription.fromPartial({ hostname: opts.hostname ?? `${nodeId}-host` }), sessionId: opts.sessionId ?? "" },
    (m) => messages.push(m),
    abort.signal,
  );
  done.then(
    () => (outcome.settled = true),
    (e: unknown) => {
      outcome.settled = true;
      outcome.error = e;
    },
  );
  return {
    messages,
    done,
    outcome,
    abort,
    async first() {
      await waitFor(`the first session message of ${nodeId}`, () => messages.length > 0 || outcome.settled);
      if (messages.length === 0) throw outcome.error;
      return messages[0]!;
    },
  };
}

const stateOf = (store: MemoryStore, id: string): NodeState | undefined => nodeOf(store, id)?.status?.state;

describe("session", () => {
  it("writes the description and READY with the peer's IP, then sends the first message", async () => {
    const h = await setup(["n1"]);
    const s = open(h.d, "n1", { peer: "10.1.2.3:40000" });
    const m = await s.first();
    const n = nodeOf(h.store, "n1")!;
    expect(n.status).toEqual({ state: NodeState.NODE_STATE_READY, message: "", addr: "10.1.2.3" });
    expect(n.description?.hostname).toBe("n1-host");
    expect(m.sessionId).toMatch(/^[0-9a-z]{20}$/);
    expect(m.node?.status?.state).toBe(NodeState.NODE_STATE_READY);
    expect(m.managers).toEqual(h.managers);
    expect(m.heartbeatPeriodMs).toBe(PERIOD);
    expect(Buffer.from(m.rootCa).toString()).toBe("ROOT CA PEM");
    expect(h.d.sessionNodes()).toEqual(["n1"]);
  });

  it("refuses a node the store does not have", async () => {
    const h = await setup(["n1"]);
    await expect(open(h.d, "stranger").done).rejects.toMatchObject({
      name: "StoreError",
      code: StoreErrorCode.NotFound,
      message: "node stranger is not a member of this cluster",
    });
  });

  it("refuses sessions while not running", async () => {
    const h = await setup(["n1"], { start: false });
    await expect(open(h.d, "n1").done).rejects.toMatchObject({ code: StoreErrorCode.Unavailable });
    expect(() => h.d.heartbeat("n1", "x")).toThrow(StoreError);
  });

  it("a second session of the same node ends the first", async () => {
    const h = await setup(["n1"]);
    const a = open(h.d, "n1");
    const first = await a.first();
    const b = open(h.d, "n1");
    const second = await b.first();
    await expect(a.done).rejects.toMatchObject({ message: `session ${first.sessionId} of node n1 was replaced by a newer session` });
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(() => h.d.heartbeat("n1", first.sessionId)).toThrow(`session ${first.sessionId} of node n1 is not valid (reconnect)`);
    expect(h.d.heartbeat("n1", second.sessionId).periodMs).toBeGreaterThan(0);
  });

  it("a reconnect naming the session that just broke resumes it", async () => {
    const h = await setup(["n1"]);
    const a = open(h.d, "n1");
    const first = await a.first();
    a.abort.abort();
    await a.done;
    const b = open(h.d, "n1", { sessionId: first.sessionId });
    expect((await b.first()).sessionId).toBe(first.sessionId);
    const c = open(h.d, "n1", { sessionId: "made-up" });
    expect((await c.first()).sessionId).not.toBe(first.sessionId);
  });

  it("sends a new message when the node object changes (role, desired role)", async () => {
    const h = await setup(["n1"]);
    const s = open(h.d, "n1");
    await s.first();
    await changeNode(h.store, "n1", (n) => {
      n.spec!.desiredRole = NodeRole.NODE_ROLE_MANAGER;
      n.role = NodeRole.NODE_ROLE_MANAGER;
    });
    await waitFor("a message with the new role", () => s.messages.at(-1)?.node?.role === NodeRole.NODE_ROLE_MANAGER);
    expect(s.messages.at(-1)!.node!.spec!.desiredRole).toBe(NodeRole.NODE_ROLE_MANAGER);
    expect(s.messages).toHaveLength(2);
  });

  it("sends the managers again when managersChanged() finds them different", async () => {
    const h = await setup(["n1"]);
    const s = open(h.d, "n1");
    await s.first();
    h.d.managersChanged();
    expect(s.messages).toHaveLength(1);
    h.managers[0]!.leader = false;
    h.managers.push({ nodeId: "m2", addr: "10.0.0.2:2377", leader: true });
    h.d.managersChanged();
    expect(s.messages).toHaveLength(2);
    expect(s.messages[1]!.managers.map((m) => [m.addr, m.leader])).toEqual([
      ["10.0.0.1:2377", false],
      ["10.0.0.2:2377", true],
    ]);
  });

  it("follows the cluster's heartbeat period and root CA", async () => {
    const h = await setup(["n1"]);
    const s = open(h.d, "n1");
    await s.first();
    await h.store.update((tx) => {
      const c = Cluster.fromPartial(tx.list("cluster")[0] as unknown as Cluster);
      c.spec!.dispatcher = { heartbeatPeriodMs: 300 };
      c.rootCa!.caCert = Buffer.from("NEW ROOT");
      tx.update("cluster", c as unknown as StoreObject);
    });
    await waitFor("a message with the new period", () => s.messages.length === 2);
    expect(s.messages[1]!.heartbeatPeriodMs).toBe(300);
    expect(Buffer.from(s.messages[1]!.rootCa).toString()).toBe("NEW ROOT");
    expect(h.d.heartbeatPeriodMs).toBe(300);
    const beat = h.d.heartbeat("n1", s.messages[0]!.sessionId).periodMs;
    expect(beat).toBeGreaterThanOrEqual(270);
    expect(beat).toBeLessThanOrEqual(330);
  });

  it("uses the default period without a cluster object, or when it sets 0", async () => {
    const h = await setup(["n1"], { cluster: false });
    expect(h.d.heartbeatPeriodMs).toBe(5_000);
    const s = open(h.d, "n1");
    expect((await s.first()).heartbeatPeriodMs).toBe(5_000);
  });

  it("ends the session of a node removed from the store", async () => {
    const h = await setup(["n1"]);
    const s = open(h.d, "n1");
    await s.first();
    await h.store.update((tx) => tx.remove("node", "n1"));
    await expect(s.done).rejects.toMatchObject({ code: StoreErrorCode.NotFound, message: "node n1 was removed from the cluster" });
  });

  it("stop() ends every session with UNAVAILABLE", async () => {
    const h = await setup(["n1", "n2"]);
    const a = open(h.d, "n1");
    const b = open(h.d, "n2");
    await Promise.all([a.first(), b.first()]);
    h.d.stop();
    for (const s of [a, b]) {
      await expect(s.done).rejects.toMatchObject({ code: StoreErrorCode.Unavailable, message: "dispatcher stopped: leadership moved" });
    }
    expect(h.d.running).toBe(false);
  });
});

describe("heartbeats", () => {
  it("keep a node READY without writing, and a node that stops beating is DOWN after 3 periods", async () => {
    const h = await setup(["n1"]);
    const s = open(h.d, "n1");
    const { sessionId } = await s.first();
    const written = nodeOf(h.store, "n1")!.meta!.version!.index;
    let periodMs = PERIOD;
    for (let i = 0; i < 20; i++) {
      h.advance(periodMs);
      periodMs = h.d.heartbeat("n1", sessionId).periodMs;
      expect(periodMs).toBeGreaterThanOrEqual(PERIOD * 0.9);
      expect(periodMs).toBeLessThanOrEqual(PERIOD * 1.1);
    }
    expect(stateOf(h.store, "n1")).toBe(NodeState.NODE_STATE_READY);
    expect(nodeOf(h.store, "n1")!.meta!.version!.index).toBe(written);

    h.advance(2.5 * PERIOD); // less than 3 × 0.9 periods after the last beat
    expect(stateOf(h.store, "n1")).toBe(NodeState.NODE_STATE_READY);
    h.advance(0.9 * PERIOD); // now 3.4 periods: past 3 × any jittered period
    await waitFor("n1 DOWN", () => stateOf(h.store, "n1") === NodeState.NODE_STATE_DOWN);
    expect(nodeOf(h.store, "n1")!.status).toEqual({ state: NodeState.NODE_STATE_DOWN, message: StatusMessage.HeartbeatFailure, addr: "10.1.2.3" });
    // The lapsed session is over: its stream ends and its heartbeats are refused.
    await expect(s.done).rejects.toMatchObject({ code: StoreErrorCode.Unavailable });
    expect(() => h.d.heartbeat("n1", sessionId)).toThrow("is not valid (reconnect)");

    // It comes back: READY again.
    const again = open(h.d, "n1");
    await again.first();
    expect(stateOf(h.store, "n1")).toBe(NodeState.NODE_STATE_READY);
  });

  it("a broken stream changes nothing until the heartbeats lapse", async () => {
    const h = await setup(["n1"]);
    const s = open(h.d, "n1");
    await s.first();
    s.abort.abort();
    await s.done;
    h.advance(PERIOD);
    expect(stateOf(h.store, "n1")).toBe(NodeState.NODE_STATE_READY);
    h.advance(3 * PERIOD);
    await waitFor("n1 DOWN", () => stateOf(h.store, "n1") === NodeState.NODE_STATE_DOWN);
  });

  it("after a (re)start, nodes in the store are UNKNOWN and get 6 periods before they are DOWN", async () => {
    const h = await setup([], { start: false });
    await addNodes(h.store, ["ready", "silent"], NodeState.NODE_STATE_READY);
    await addNodes(h.store, ["down"], NodeState.NODE_STATE_DOWN);
    await addNodes(h.store, ["left"], NodeState.NODE_STATE_DISCONNECTED);
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    h.d.start(abort.signal);
    await waitFor("UNKNOWN written", () => stateOf(h.store, "silent") === NodeState.NODE_STATE_UNKNOWN);
    expect(nodeOf(h.store, "silent")!.status!.message).toBe(StatusMessage.LeaderChanged);
    expect(stateOf(h.store, "ready")).toBe(NodeState.NODE_STATE_UNKNOWN);
    expect(stateOf(h.store, "left")).toBe(NodeState.NODE_STATE_UNKNOWN);
    expect(stateOf(h.store, "down")).toBe(NodeState.NODE_STATE_DOWN);

    const s = open(h.d, "ready");
    const { sessionId } = await s.first();
    expect(stateOf(h.store, "ready")).toBe(NodeState.NODE_STATE_READY);

    for (let i = 0; i < 5; i++) {
      h.advance(PERIOD); // 5 periods: past the 3 of a session, within the 6 of an unknown node
      h.d.heartbeat("ready", sessionId);
    }
    expect(stateOf(h.store, "silent")).toBe(NodeState.NODE_STATE_UNKNOWN);
    h.advance(1.01 * PERIOD);
    await waitFor("silent DOWN", () => stateOf(h.store, "silent") === NodeState.NODE_STATE_DOWN);
    expect(nodeOf(h.store, "silent")!.status!.message).toBe(StatusMessage.UnknownHeartbeatFailure);
    expect(stateOf(h.store, "left")).toBe(NodeState.NODE_STATE_DOWN);
    expect(stateOf(h.store, "ready")).toBe(NodeState.NODE_STATE_READY);

    // Stopped and started again (leadership came back): the same rules from scratch.
    h.d.stop();
    await expect(s.done).rejects.toMatchObject({ message: "dispatcher stopped: leadership moved" });
    const again = new AbortController();
    cleanups.push(() => again.abort());
    h.d.start(again.signal);
    await waitFor("ready UNKNOWN after the restart", () => stateOf(h.store, "ready") === NodeState.NODE_STATE_UNKNOWN);
    expect(stateOf(h.store, "silent")).toBe(NodeState.NODE_STATE_DOWN);
  });

  it("a node that joins while the dispatcher runs is DOWN if it never opens a session", async () => {
    const h = await setup([]);
    await addNodes(h.store, ["late"]);
    await waitFor("the dispatcher to see the new node", () => h.d.awaiting("late") === Awaited.Unknown);
    h.advance(5 * PERIOD);
    expect(stateOf(h.store, "late")).toBe(NodeState.NODE_STATE_UNKNOWN);
    h.advance(1.01 * PERIOD);
    await waitFor("late DOWN", () => stateOf(h.store, "late") === NodeState.NODE_STATE_DOWN);
  });

  it("writes the status of many nodes in few transactions", async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `node${String(i).padStart(2, "0")}`);
    const h = await setup(ids);
    const atStart = h.proposals.count;
    const sessions = ids.map((id) => open(h.d, id));
    const firsts = await Promise.all(sessions.map((s) => s.first()));
    const registered = h.proposals.count;
    expect(registered - atStart).toBeLessThanOrEqual(2);
    for (const id of ids) expect(stateOf(h.store, id)).toBe(NodeState.NODE_STATE_READY);

    for (let round = 0; round < 10; round++) {
      h.clock.t += PERIOD / 2;
      ids.forEach((id, i) => h.d.heartbeat(id, firsts[i]!.sessionId));
    }
    expect(h.proposals.count).toBe(registered); // heartbeats write nothing

    h.advance(4 * PERIOD); // every node lapses at once
    await waitFor("all DOWN", () => ids.every((id) => stateOf(h.store, id) === NodeState.NODE_STATE_DOWN));
    expect(h.proposals.count - registered).toBe(1);
  });
});

describe("peerIp", () => {
  it("takes the address out of grpc-js peer strings", () => {
    expect(peerIp("10.0.0.5:41234")).toBe("10.0.0.5");
    expect(peerIp("::1:41234")).toBe("::1");
    expect(peerIp("[fe80::1]:41234")).toBe("fe80::1");
    expect(peerIp("::ffff:10.0.0.7:5000")).toBe("10.0.0.7");
    expect(peerIp("ipv4:127.0.0.1:80")).toBe("127.0.0.1");
    expect(peerIp("10.0.0.5")).toBe("10.0.0.5");
    expect(peerIp("unknown")).toBe("");
  });
});
