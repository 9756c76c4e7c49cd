// Leadership transfer (§3.10 of Ongaro's thesis) and linearizable reads with ReadIndex (§6.4).
import { describe, expect, it } from "vitest";
import { NotLeaderError } from "./errors.js";
import { bytes, Network, text } from "./test-network.js";
import { MessageType, NONE, StateType, message, type Message } from "./types.js";

describe("leadership transfer (§3.10 thesis)", () => {
  it("the target, already up to date, gets TimeoutNow at once and wins the next term despite the others' lease", () => {
    const net = new Network();
    net.elect(1);
    const term = net.node(1).term;
    net.clearSent();
    net.node(1).raw.transferLeadership(2);
    net.stabilize();
    expect(net.sentOf(MessageType.TimeoutNow).map((m) => [m.from, m.to, m.term])).toEqual([[1, 2, term]]);
    // A transfer campaign skips pre-vote and its requests are marked so leases do not block them.
    expect(net.sentOf(MessageType.PreVote)).toEqual([]);
    expect(net.sentOf(MessageType.Vote).map((m) => [m.from, m.to, m.term, text(m.context)])).toEqual([
      [2, 1, term + 1, "T"],
      [2, 3, term + 1, "T"],
    ]);
    expect(net.node(2).state).toBe(StateType.Leader);
    expect(net.node(2).term).toBe(term + 1);
    for (const id of [1, 3]) expect([id, net.node(id).state, net.node(id).lead]).toEqual([id, StateType.Follower, 2]);
  });

  it("a target that is behind is caught up first; TimeoutNow follows its acknowledgement of the last entry", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, `e${i}`);
    net.heal();
    net.clearSent();
    net.node(1).raw.transferLeadership(3);
    expect(net.node(1).raw.status().leadTransferee).toBe(3);
    net.stabilize();
    const seq = net.sent.filter((m) => (m.from === 1 && m.to === 3) || (m.from === 3 && m.to === 1));
    const timeoutAt = seq.findIndex((m) => m.type === MessageType.TimeoutNow);
    const caughtUpAt = seq.findIndex((m) => m.type === MessageType.AppResp && !m.reject && m.index === b + 6);
    expect(caughtUpAt).toBeGreaterThanOrEqual(0);
    expect(timeoutAt).toBeGreaterThan(caughtUpAt);
    expect(seq.slice(0, timeoutAt).some((m) => m.type === MessageType.App && m.entries.length === 5)).toBe(true);
    const n3 = net.node(3);
    expect(n3.state).toBe(StateType.Leader);
    expect(n3.term).toBe(3);
    expect(n3.appliedData()).toEqual(["e0", "e1", "e2", "e3", "e4"]);
    expect(n3.lastIndex).toBe(b + 7); // its own no-op after the five entries
  });

  it("a transfer requested on a follower is forwarded to the leader", () => {
    const net = new Network();
    net.elect(1);
    net.clearSent();
    net.node(3).raw.transferLeadership(3);
    net.stabilize();
    expect(net.sentOf(MessageType.TransferLeader).map((m) => [m.from, m.to])).toEqual([[3, 1]]);
    expect(net.leader()!.id).toBe(3);
  });

  it("transfers to the leader itself or to a learner are ignored", () => {
    const net = new Network({ voters: [1, 2, 3], learners: [4] });
    net.elect(1);
    net.node(1).raw.transferLeadership(1);
    net.node(1).raw.transferLeadership(4);
    expect(net.node(1).raw.status().leadTransferee).toBe(NONE);
    net.clearSent();
    net.stabilize();
    expect(net.sentOf(MessageType.TimeoutNow)).toEqual([]);
    expect(net.node(1).state).toBe(StateType.Leader);
  });

  it("a transfer to an unreachable target is aborted after an election timeout; the leader stays", () => {
    const net = new Network();
    net.elect(1);
    net.isolate(3);
    net.propose(1, "x");
    net.node(1).raw.transferLeadership(3);
    net.stabilize();
    expect(net.node(1).raw.status().leadTransferee).toBe(3);
    net.tick(10, [1, 2]);
    expect(net.node(1).raw.status().leadTransferee).toBe(NONE);
    expect(net.node(1).state).toBe(StateType.Leader);
  });
});

describe("ReadIndex (§6.4 thesis)", () => {
  it("on the leader: the read is answered after a heartbeat round confirms leadership, at the commit index", () => {
    const net = new Network();
    net.elect(1);
    const c = net.propose(1, "x");
    const leader = net.node(1);
    net.clearSent();
    leader.raw.readIndex(bytes("r1"));
    net.flush(leader);
    // Not answered yet: first a heartbeat round carrying the request's context.
    expect(leader.readStates).toEqual([]);
    expect(net.queue.map((m) => [m.type, m.to, text(m.context), m.commit])).toEqual([
      [MessageType.Heartbeat, 2, "r1", c],
      [MessageType.Heartbeat, 3, "r1", c],
    ]);
    net.stabilize();
    expect(leader.readStates.map((rs) => [rs.index, text(rs.context)])).toEqual([[c, "r1"]]);
  });

  it("on the leader: one acknowledgement (plus its own) is enough in three; none is not", () => {
    const net = new Network();
    net.elect(1);
    const c = net.node(1).committed;
    net.isolate(3);
    net.node(1).raw.readIndex(bytes("a"));
    net.stabilize();
    expect(net.node(1).readStates.map((rs) => [rs.index, text(rs.context)])).toEqual([[c, "a"]]);
    net.isolate(2);
    net.node(1).raw.readIndex(bytes("b"));
    net.tick(3, [1]);
    expect(net.node(1).readStates.length).toBe(1);
  });

  it("on a follower: the request is forwarded to the leader and the answer comes back as a ReadState", () => {
    const net = new Network();
    net.elect(1);
    const c = net.propose(1, "x");
    net.clearSent();
    net.node(2).raw.readIndex(bytes("f1"));
    net.stabilize();
    expect(net.sentOf(MessageType.ReadIndex).map((m) => [m.from, m.to, text(m.context)])).toEqual([[2, 1, "f1"]]);
    expect(net.sentOf(MessageType.ReadIndexResp).map((m) => [m.from, m.to, m.index, text(m.context)])).toEqual([[1, 2, c, "f1"]]);
    expect(net.node(2).readStates.map((rs) => [rs.index, text(rs.context)])).toEqual([[c, "f1"]]);
    expect(net.node(1).readStates).toEqual([]);
  });

  it("a read on a freshly elected leader waits until its no-op commits", () => {
    const net = new Network();
    const b = net.bootIndex;
    const held: Message[] = [];
    net.intercept = (m) => {
      if (m.type === MessageType.App) {
        held.push(m);
        return null;
      }
      return m;
    };
    net.elect(1);
    const leader = net.node(1);
    expect(leader.committed).toBe(b); // the no-op (b+1) is not committed
    net.clearSent();
    leader.raw.readIndex(bytes("early"));
    net.stabilize();
    expect(net.sentOf(MessageType.Heartbeat)).toEqual([]);
    expect(leader.readStates).toEqual([]);
    net.intercept = null;
    for (const m of held.splice(0)) net.inject(m);
    net.stabilize();
    expect(leader.committed).toBe(b + 1);
    expect(net.sentOf(MessageType.Heartbeat).map((m) => text(m.context))).toEqual(["early", "early"]);
    expect(leader.readStates.map((rs) => [rs.index, text(rs.context)])).toEqual([[b + 1, "early"]]);
  });

  it("a single-member cluster answers at once", () => {
    const net = new Network({ voters: [1] });
    net.elect(1);
    const c = net.node(1).committed;
    net.node(1).raw.readIndex(bytes("solo"));
    net.flush(net.node(1));
    expect(net.node(1).readStates.map((rs) => [rs.index, text(rs.context)])).toEqual([[c, "solo"]]);
  });

  it("a member that knows no leader refuses a local read with NotLeaderError", () => {
    const net = new Network({ config: { preVote: false } });
    expect(() => net.node(2).raw.readIndex(bytes("r"))).toThrow(NotLeaderError);
    net.node(2).raw.campaign();
    expect(net.node(2).state).toBe(StateType.Candidate);
    expect(() => net.node(2).raw.readIndex(bytes("r"))).toThrow(NotLeaderError);
  });

  it("a read forwarded to a member that lost leadership meanwhile is dropped, not thrown at the driver", () => {
    const net = new Network();
    net.elect(1);
    const term = net.node(1).term;
    net.node(2).raw.readIndex(bytes("late"));
    net.flush(net.node(2));
    const fwd = net.queue.splice(0);
    expect(fwd.map((m) => [m.type, m.from, m.to])).toEqual([[MessageType.ReadIndex, 2, 1]]);
    // Meanwhile member 1 learns of a newer term and becomes a follower with no leader...
    const n1 = net.node(1);
    n1.raw.step(message({ type: MessageType.AppResp, from: 3, to: 1, term: term + 1 }));
    expect([n1.state, n1.lead]).toEqual([StateType.Follower, NONE]);
    expect(() => n1.raw.step(fwd[0]!)).not.toThrow();
    net.flush(n1);
    expect(net.queue.filter((m) => m.type === MessageType.ReadIndexResp || m.type === MessageType.ReadIndex)).toEqual([]);
    // ...or a candidate.
    const net2 = new Network({ config: { preVote: false } });
    net2.elect(1);
    net2.node(2).raw.readIndex(bytes("late"));
    net2.flush(net2.node(2));
    const fwd2 = net2.queue.splice(0);
    net2.node(1).raw.step(message({ type: MessageType.AppResp, from: 3, to: 1, term: net2.node(1).term + 1 }));
    net2.node(1).raw.campaign();
    expect(net2.node(1).state).toBe(StateType.Candidate);
    expect(() => net2.node(1).raw.step(fwd2[0]!)).not.toThrow();
  });
});
