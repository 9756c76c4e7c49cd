// Membership changes (§6 of the Raft paper; single-server changes, §4.1 of Ongaro's thesis) and
// learners. As implemented: one change at a time (no joint consensus); a change takes effect when
// applied; a leader that applies its own removal steps down.
import { describe, expect, it } from "vitest";
import { encodeConfChange } from "./conf-change-codec.js";
import { ConfChangeRefusedError, NotLeaderError } from "./errors.js";
import { bytes, cc, Network, type TestConfig } from "./test-network.js";
import { ConfChangeType, EntryType, MessageType, NONE, StateType, message } from "./types.js";

/** A 3-voter cluster led by 1 with member 4 added as a learner and caught up. */
function withLearner(config: TestConfig = {}): { net: Network; b: number } {
  const net = new Network({ config });
  const b = net.bootIndex;
  net.elect(1);
  const idx = net.node(1).raw.proposeConfChange(cc(ConfChangeType.AddLearner, 4));
  expect(idx).toBe(b + 2);
  net.stabilize();
  net.addNode(4);
  net.tick(1);
  return { net, b };
}

describe("learners", () => {
  it("§4.2.1 thesis: an added learner receives the log and the membership, as a non-voting member", () => {
    const { net, b } = withLearner();
    for (const id of [1, 2, 3, 4]) {
      expect([id, net.node(id).confState]).toEqual([id, { voters: [1, 2, 3], learners: [4] }]);
    }
    const n4 = net.node(4);
    expect(n4.raw.raft.isLearner).toBe(true);
    expect(n4.logTerms()).toEqual(net.node(1).logTerms());
    expect(n4.committed).toBe(b + 2);
    expect(n4.lead).toBe(1);
    const i = net.propose(1, "x");
    expect(n4.appliedData()).toEqual(["x"]);
    expect(n4.committed).toBe(i);
    expect(net.node(1).raw.status().peers.find((p) => p.id === 4)).toMatchObject({ isLearner: true, match: i });
  });

  it("learners' copies do not count toward commitment", () => {
    // Two learners from the start: leader + both learners would be a majority of all five members.
    const net = new Network({ voters: [1, 2, 3], learners: [4, 5] });
    const b = net.bootIndex;
    expect(net.node(5).confState).toEqual({ voters: [1, 2, 3], learners: [4, 5] });
    net.elect(1);
    expect(net.node(1).committed).toBe(b + 1);
    net.isolate(2);
    net.isolate(3);
    const i = net.propose(1, "x");
    expect([net.node(4).lastIndex, net.node(5).lastIndex]).toEqual([i, i]); // stored on leader and learners...
    expect(net.node(1).committed).toBe(b + 1); // ...but that is 1 of 3 voters
    net.heal();
    net.tick(1);
    expect(net.node(1).committed).toBe(i);
  });

  it("a learner is not asked to vote, and its vote would not count", () => {
    const { net } = withLearner();
    net.isolate(1);
    net.clearSent();
    net.tick(30, [2, 3, 4]);
    const requests = [...net.sentOf(MessageType.PreVote), ...net.sentOf(MessageType.Vote)];
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((m) => m.to === 4 || m.from === 4)).toEqual([]);
    const leader = net.leader()!;
    expect([2, 3]).toContain(leader.id);
    // A candidate that only hears from the learner does not win.
    const net2 = withLearner().net;
    net2.isolate(1);
    net2.isolate(3);
    const n2 = net2.node(2);
    n2.raw.campaign();
    net2.stabilize();
    expect(n2.state).toBe(StateType.PreCandidate);
    n2.raw.step(message({ type: MessageType.PreVoteResp, from: 4, to: 2, term: n2.term + 1 }));
    expect(n2.state).toBe(StateType.PreCandidate);
  });

  it("a learner never campaigns, even when it hears from no leader", () => {
    const { net } = withLearner();
    net.isolate(4);
    net.clearSent();
    net.tick(200, [4]);
    expect(net.sent.filter((m) => m.from === 4)).toEqual([]);
    expect(net.node(4).state).toBe(StateType.Follower);
    net.node(4).raw.campaign();
    expect(net.node(4).state).toBe(StateType.Follower);
    expect(net.node(4).raw.hasReady()).toBe(false);
  });

  it("a learner promoted to voter counts toward commitment and may campaign", () => {
    // No leader lease, so that member 4 can win an election while the others still follow 1.
    const { net, b } = withLearner({ checkQuorum: false });
    expect(net.node(1).raw.proposeConfChange(cc(ConfChangeType.AddVoter, 4))).toBe(b + 3);
    net.stabilize();
    for (const id of [1, 2, 3, 4]) {
      expect([id, net.node(id).confState]).toEqual([id, { voters: [1, 2, 3, 4], learners: [] }]);
    }
    expect(net.node(4).raw.raft.isLearner).toBe(false);
    // Four voters: leader + 4 is not a majority, leader + 2 + 4 is.
    net.isolate(2);
    net.isolate(3);
    const i = net.propose(1, "x");
    expect(net.node(1).committed).toBe(b + 3);
    net.heal();
    net.isolate(3);
    net.tick(1);
    expect(net.node(1).committed).toBe(i);
    // It may now lead.
    net.heal();
    net.campaign(4);
    expect(net.node(4).state).toBe(StateType.Leader);
    expect(net.node(1).lead).toBe(4);
  });
});

describe("adding and removing voters (§6)", () => {
  it("§6: a removed voter no longer counts: the remaining two must both store an entry", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    expect(net.node(1).raw.proposeConfChange(cc(ConfChangeType.RemoveNode, 3))).toBe(b + 2);
    net.stabilize();
    for (const id of [1, 2]) expect([id, net.node(id).confState]).toEqual([id, { voters: [1, 2], learners: [] }]);
    expect(net.node(1).raw.status().peers.map((p) => p.id)).toEqual([1, 2]);
    net.clearSent();
    net.tick(3);
    expect(net.sent.filter((m) => m.to === 3 && m.from === 1)).toEqual([]);
    net.isolate(2);
    const i = net.propose(1, "x");
    expect(net.node(1).committed).toBe(b + 2);
    net.heal();
    net.tick(1);
    expect(net.node(1).committed).toBe(i);
  });

  it("§6: an added voter takes part in commitment once its change is applied", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    net.node(1).raw.proposeConfChange(cc(ConfChangeType.AddVoter, 4));
    net.stabilize();
    net.addNode(4);
    net.tick(1);
    expect(net.node(4).confState).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    expect(net.node(4).committed).toBe(b + 2);
    // 1 and 4 of 4 voters are not a majority.
    net.isolate(2);
    net.isolate(3);
    net.propose(1, "x");
    expect(net.node(1).committed).toBe(b + 2);
    expect(net.node(4).lastIndex).toBe(b + 3);
  });

  it("a second change while one is pending is refused with ConfChangeRefusedError; accepted once the first is applied", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    const leader = net.node(1);
    expect(leader.raw.proposeConfChange(cc(ConfChangeType.AddLearner, 4))).toBe(b + 2);
    let err: unknown;
    try {
      leader.raw.proposeConfChange(cc(ConfChangeType.AddLearner, 5));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfChangeRefusedError);
    expect((err as ConfChangeRefusedError).code).toBe("RAFT_CONF_CHANGE_REFUSED");
    expect((err as Error).message).toMatch(new RegExp(`log index ${b + 2}`));
    expect(leader.lastIndex).toBe(b + 2);
    net.stabilize();
    expect(leader.appliedIndex).toBe(b + 2);
    expect(leader.raw.proposeConfChange(cc(ConfChangeType.AddLearner, 5))).toBe(b + 3);
    net.stabilize();
    expect(leader.confState).toEqual({ voters: [1, 2, 3], learners: [4, 5] });
  });

  it("the leader itself refuses a second change, even one that bypassed RawNode's validation", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    const r = net.node(1).raw.raft;
    const entry = (id: number) => ({ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc(ConfChangeType.AddLearner, id)) });
    expect(r.propose([entry(4)])).toBe(b + 2);
    expect(() => r.propose([entry(5)])).toThrow(ConfChangeRefusedError);
    expect(r.raftLog.lastIndex()).toBe(b + 2);
  });

  it("a change committed but not yet applied still blocks the next one", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    const leader = net.node(1);
    leader.raw.proposeConfChange(cc(ConfChangeType.AddLearner, 4));
    net.flush(leader);
    // Deliver the appends and answers without letting the leader handle its next Ready.
    while (net.queue.length > 0) {
      const m = net.queue.shift()!;
      const to = net.node(m.to);
      to.raw.step(m);
      if (m.to !== 1) for (const out of to.handleReady()) net.queue.push(out);
    }
    expect(leader.committed).toBe(b + 2);
    expect(leader.raw.raft.raftLog.applied).toBe(b + 1);
    expect(() => leader.raw.proposeConfChange(cc(ConfChangeType.AddLearner, 5))).toThrow(ConfChangeRefusedError);
    net.stabilize();
    expect(() => leader.raw.proposeConfChange(cc(ConfChangeType.AddLearner, 5))).not.toThrow();
  });

  it("invalid changes are refused before they reach the log", () => {
    const net = new Network({ voters: [1, 2] });
    net.elect(1);
    const leader = net.node(1);
    const last = leader.lastIndex;
    expect(() => leader.raw.proposeConfChange(cc(ConfChangeType.AddVoter, 2))).toThrow(/already a voter/);
    expect(() => leader.raw.proposeConfChange(cc(ConfChangeType.AddLearner, 2))).toThrow(/already a voter/);
    expect(() => leader.raw.proposeConfChange(cc(ConfChangeType.RemoveNode, 9))).toThrow(/not a member/);
    expect(leader.lastIndex).toBe(last);
    const solo = new Network({ voters: [1] });
    solo.elect(1);
    expect(() => solo.node(1).raw.proposeConfChange(cc(ConfChangeType.RemoveNode, 1))).toThrow(/last voter/);
  });

  it("a follower refuses a membership change with NotLeaderError", () => {
    const net = new Network();
    net.elect(1);
    expect(() => net.node(2).raw.proposeConfChange(cc(ConfChangeType.AddLearner, 4))).toThrow(NotLeaderError);
  });

  it("a leader that removes itself steps down once it applies the change; the others elect a new leader without it", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    const term = net.node(1).term;
    const n1 = net.node(1);
    n1.raw.proposeConfChange(cc(ConfChangeType.RemoveNode, 1));
    net.stabilize();
    expect([n1.state, n1.lead, n1.term]).toEqual([StateType.Follower, NONE, term]);
    expect(n1.confState).toEqual({ voters: [2, 3], learners: [] });
    // The followers learned the commit before the leader stepped down, and applied it too.
    for (const id of [2, 3]) {
      expect([id, net.node(id).committed, net.node(id).confState]).toEqual([id, b + 2, { voters: [2, 3], learners: [] }]);
    }
    expect(n1.applied.at(-1)).toMatchObject({ index: b + 2, type: EntryType.ConfChange });
    expect(() => n1.raw.propose(bytes("x"))).toThrow(NotLeaderError);
    net.clearSent();
    net.tick(50);
    const leader = net.leader()!;
    expect([2, 3]).toContain(leader.id);
    expect(leader.term).toBe(term + 1);
    // The removed member never campaigned and was never asked to vote.
    expect(net.sent.filter((m) => m.from === 1 && m.type !== MessageType.AppResp && m.type !== MessageType.HeartbeatResp)).toEqual([]);
    expect([...net.sentOf(MessageType.PreVote), ...net.sentOf(MessageType.Vote)].filter((m) => m.to === 1)).toEqual([]);
    const i = net.propose(leader.id, "after");
    expect(net.node(2).committed).toBe(i);
    expect(n1.committed).toBe(b + 2);
  });
});
