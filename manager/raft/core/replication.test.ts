// Log replication (§5.3, §5.4.2 of the Raft paper) with etcd's extensions: fast back-off on
// rejection, flow control (in-flight window, message size) and proposal refusals.
import { describe, expect, it } from "vitest";
import { NotLeaderError, ProposalDroppedError } from "./errors.js";
import { bytes, Network, TEST_ELECTION_TICK } from "./test-network.js";
import { EntryType, MessageType, StateType, entrySize, type Message } from "./types.js";

function lastOf(m: Message): number {
  return m.index + m.entries.length;
}

describe("log replication (§5.3)", () => {
  it("§5.4.2/§8: a new leader appends an empty entry of its term and commits it", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    for (const n of net.nodes.values()) {
      const last = n.persistedLog().at(-1)!;
      expect([n.id, last.index, last.term, last.type, last.data.length]).toEqual([n.id, b + 1, 2, EntryType.Normal, 0]);
      expect(n.committed).toBe(b + 1);
      expect(n.applied.at(-1)!.index).toBe(b + 1);
    }
  });

  it("§5.4.2: the no-op is not committed before a majority has it", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.isolate(2);
    net.isolate(3);
    // Votes go through only with the links up: elect first, then hold the appends.
    net.heal();
    net.intercept = (m) => (m.type === MessageType.App ? null : m);
    net.elect(1);
    expect(net.node(1).lastIndex).toBe(b + 1);
    expect(net.node(1).committed).toBe(b);
  });

  it("§5.3: a proposal is sent to every follower, committed once a majority stored it, then applied in order", () => {
    const net = new Network({ voters: [1, 2, 3, 4, 5] });
    const b = net.bootIndex;
    net.elect(1);
    net.isolate(4);
    net.isolate(5);
    net.clearSent();
    const ix = net.propose(1, "x");
    expect(ix).toBe(b + 2);
    // One append per follower, each after the previous entry (b+1, term 2).
    expect(net.sentOf(MessageType.App, { from: 1 }).map((m) => [m.to, m.index, m.logTerm, m.entries.map((e) => e.index)])).toEqual([
      [2, b + 1, 2, [b + 2]],
      [3, b + 1, 2, [b + 2]],
      [4, b + 1, 2, [b + 2]],
      [5, b + 1, 2, [b + 2]],
      // the commit index travels with the next appends (empty)
      [2, b + 2, 2, []],
      [3, b + 2, 2, []],
      [4, b + 2, 2, []],
      [5, b + 2, 2, []],
    ]);
    for (const id of [1, 2, 3]) {
      expect([id, net.node(id).committed, net.node(id).appliedData()]).toEqual([id, b + 2, ["x"]]);
    }
    for (const id of [4, 5]) expect([id, net.node(id).lastIndex, net.node(id).appliedData()]).toEqual([id, b + 1, []]);

    // Only two of five hold the next entry: not committed, not applied anywhere.
    net.isolate(3);
    const iy = net.propose(1, "y");
    expect(iy).toBe(b + 3);
    expect(net.node(2).lastIndex).toBe(b + 3);
    expect(net.node(1).committed).toBe(b + 2);
    expect(net.node(2).committed).toBe(b + 2);
    expect(net.node(1).appliedData()).toEqual(["x"]);

    net.heal();
    net.tick(2);
    for (const n of net.nodes.values()) {
      expect([n.id, n.committed, n.appliedData()]).toEqual([n.id, b + 3, ["x", "y"]]);
    }
  });

  it("§5.3: a follower's conflicting uncommitted suffix is truncated and replaced by the leader's entries", () => {
    const net = new Network({
      config: { preVote: false },
      nodes: { 1: { log: [2, 3] }, 2: { log: [2, 2, 2, 2] }, 3: { log: [2, 3] } },
    });
    const b = net.bootIndex;
    expect(net.node(2).logTerms()).toEqual([1, 1, 1, 2, 2, 2, 2]);
    net.elect(1);
    expect(net.node(1).term).toBe(4);
    const leaderLog = net.node(1).persistedLog();
    expect(leaderLog.map((e) => e.term)).toEqual([1, 1, 1, 2, 3, 4]);
    const f = net.node(2);
    expect(f.logTerms()).toEqual([1, 1, 1, 2, 3, 4]);
    // Same entries, not just same terms: the follower's own b+2.. were discarded.
    expect(f.persistedLog().map((e) => [e.index, e.term, new TextDecoder().decode(e.data)])).toEqual(
      leaderLog.map((e) => [e.index, e.term, new TextDecoder().decode(e.data)]),
    );
    expect(f.persistedLog()[b + 1]!.data).toEqual(bytes(`pre-${b + 2}@3`));
    // Only the discarded entries were never applied.
    expect(f.applied.map((e) => [e.index, e.term])).toEqual(leaderLog.map((e) => [e.index, e.term]));
    expect(net.sentOf(MessageType.AppResp, { from: 2 }).filter((m) => m.reject).length).toBe(1);
  });
});

describe("commitment of entries from previous terms (§5.4.2, Figure 8)", () => {
  it("Figure 8: a leader does not commit an old-term entry stored on a majority; a later leader may overwrite it", () => {
    // (b)/(c) of Figure 8, five members after the bootstrap entries:
    //   S1, S2: [2]   (S1 led term 2 and replicated index b+1 to S2 only)
    //   S3, S4: []
    //   S5:     [3]   (S5 led term 3 and stored its entry alone)
    const net = new Network({
      voters: [1, 2, 3, 4, 5],
      config: { preVote: false, checkQuorum: false },
      nodes: { 1: { log: [2], term: 3 }, 2: { log: [2], term: 3 }, 3: { term: 3 }, 4: { term: 3 }, 5: { log: [3] } },
    });
    const b = net.bootIndex;
    // S1 wins term 4 (S2, S3, S4 vote for it). Its appends reach S2 and S3 without the new term's
    // entries, so the term-2 entry b+1 is on S1, S2, S3: a majority.
    net.intercept = (m) => {
      if (m.type !== MessageType.App || m.from !== 1) return m;
      if (m.to === 4 || m.to === 5) return null;
      return { ...m, entries: m.entries.filter((e) => e.term < 4) };
    };
    net.elect(1);
    const s1 = net.node(1);
    expect(s1.term).toBe(4);
    expect(s1.lastIndex).toBe(b + 2); // b+1 (term 2) and its no-op b+2 (term 4)
    const match = new Map(s1.raw.status().peers.map((p) => [p.id, p.match]));
    expect([match.get(1), match.get(2), match.get(3)]).toEqual([b + 2, b + 1, b + 1]);
    // Stored on a majority, but of an older term: not committed by counting replicas.
    expect(s1.committed).toBe(b);
    for (const n of net.nodes.values()) expect(n.applied.some((e) => e.index === b + 1)).toBe(false);

    // (d): S1 crashes; S5 can still be elected (its last term 3 beats their term 2) and overwrite b+1.
    net.heal();
    net.isolate(1);
    // S5 saw (and rejected) S1's term-4 vote request, so it campaigns in term 5; S2, S3, S4 grant.
    net.campaign(5);
    const s5 = net.node(5);
    expect(s5.state).toBe(StateType.Leader);
    expect(s5.term).toBe(5);
    for (const id of [2, 3, 4, 5]) {
      expect([id, net.node(id).logTerms()]).toEqual([id, [1, 1, 1, 1, 1, 3, 5]]);
      expect([id, net.node(id).committed]).toEqual([id, b + 2]);
    }
    // S1 rejoins: its uncommitted b+1 (term 2) and b+2 (term 4) are replaced.
    net.heal();
    net.tick(1);
    expect(s1.state).toBe(StateType.Follower);
    expect(s1.logTerms()).toEqual([1, 1, 1, 1, 1, 3, 5]);
    // State machine safety: every member applied the same entries in the same order.
    const applied = (id: number): number[][] => net.node(id).applied.map((e) => [e.index, e.term]);
    for (const id of [1, 2, 3, 4]) expect(applied(id)).toEqual(applied(5));
  });

  it("§5.4.2: once an entry of the current term is on a majority, earlier entries commit with it", () => {
    const net = new Network({
      voters: [1, 2, 3, 4, 5],
      config: { preVote: false, checkQuorum: false },
      nodes: { 1: { log: [2], term: 3 }, 2: { log: [2], term: 3 }, 3: { term: 3 }, 4: { term: 3 }, 5: { log: [3] } },
    });
    const b = net.bootIndex;
    net.intercept = (m) => (m.type === MessageType.App && m.from === 1 && (m.to === 4 || m.to === 5) ? null : m);
    net.elect(1);
    expect(net.node(1).committed).toBe(b + 2);
    expect(net.node(1).applied.slice(-2).map((e) => [e.index, e.term])).toEqual([
      [b + 1, 2],
      [b + 2, 4],
    ]);
  });
});

describe("fast back-off of rejected appends", () => {
  it("a follower missing many entries catches up after one rejection (not one per entry)", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    net.isolate(3);
    for (let i = 0; i < 100; i++) net.propose(1, `e${i}`);
    expect(net.node(1).committed).toBe(b + 101);
    expect(net.node(3).lastIndex).toBe(b + 1);
    net.heal();
    net.clearSent();
    net.tick(1);
    const toFollower = net.sentOf(MessageType.App, { from: 1, to: 3 });
    const rejections = net.sentOf(MessageType.AppResp, { from: 3 }).filter((m) => m.reject);
    expect(rejections.map((m) => [m.index, m.rejectHint])).toEqual([[b + 101, b + 1]]);
    // A probe at the leader's last index, then everything from the hint on in one message.
    expect(toFollower.filter((m) => m.entries.length > 0).map((m) => [m.index, m.entries.length])).toEqual([[b + 1, 100]]);
    expect(net.node(3).lastIndex).toBe(b + 101);
    expect(net.node(3).appliedData().length).toBe(100);
  });

  // Follower logs that diverge from the leader's (terms after the bootstrap entries); the leader
  // (S1, with S3 a copy of it) is elected in term 7.
  const cases: { name: string; leader: number[]; follower: number[]; rejections: number }[] = [
    { name: "a long stale suffix of an old term", leader: [2, 2, 5, 5, 5, 5, 5, 5, 5, 5], follower: [2, 2, ...Array<number>(20).fill(3)], rejections: 1 },
    { name: "a shorter log that diverged early", leader: [2, 4, 4, 4, 4, 4, 4, 4, 4, 4], follower: [2, 3, 3, 3], rejections: 1 },
    { name: "several stale terms", leader: [1, 1, 6, 6, 6, 6, 6, 6], follower: [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 5], rejections: 1 },
    { name: "a follower that is only behind", leader: [2, 2, 2, 3, 3, 3, 3, 3], follower: [2, 2], rejections: 1 },
    { name: "a follower with the higher last index but an older term", leader: [2, 4, 4], follower: [2, 3, 3, 3, 3, 3, 3, 3, 3], rejections: 1 },
  ];
  for (const c of cases) {
    it(`converges in few round trips: ${c.name}`, () => {
      const term = 6;
      const net = new Network({
        config: { preVote: false },
        nodes: { 1: { log: c.leader, term }, 2: { log: c.follower, term }, 3: { log: c.leader, term } },
      });
      net.elect(1);
      const leaderTerms = net.node(1).logTerms();
      expect(leaderTerms).toEqual([1, 1, 1, ...c.leader, 7]);
      expect(net.node(2).logTerms()).toEqual(leaderTerms);
      const rejections = net.sentOf(MessageType.AppResp, { from: 2 }).filter((m) => m.reject).length;
      expect(rejections).toBe(c.rejections);
      // Naive back-off would need one round trip per divergent entry.
      expect(rejections).toBeLessThan(Math.max(c.leader.length, c.follower.length) / 2);
    });
  }
});

describe("flow control", () => {
  it("with maxInflightMsgs=2 the leader never has more than 2 unacknowledged appends to a follower", () => {
    const net = new Network({ config: { maxInflightMsgs: 2 } });
    const b = net.bootIndex;
    net.elect(1);
    const leader = net.node(1);
    const held: Message[] = [];
    net.intercept = (m) => {
      if (m.type === MessageType.App && m.to === 2) {
        held.push(m);
        return null;
      }
      return m;
    };
    const progress2 = () => leader.raw.raft.trk.progress.get(2)!;
    const unacked = (): number =>
      net.sentOf(MessageType.App, { from: 1, to: 2 }).filter((m) => m.entries.length > 0 && lastOf(m) > progress2().match).length;
    net.clearSent();
    for (let i = 0; i < 10; i++) {
      net.propose(1, `p${i}`);
      expect(unacked()).toBeLessThanOrEqual(2);
    }
    // Exactly two appends went to the silent follower: the window is full.
    const withEntries = () => net.sentOf(MessageType.App, { from: 1, to: 2 }).filter((m) => m.entries.length > 0);
    expect(withEntries().map((m) => m.entries.map((e) => e.index))).toEqual([[b + 2], [b + 3]]);
    expect(progress2().inflights.length).toBe(2);
    expect(progress2().isPaused()).toBe(true);
    // Commits still advance through member 3.
    expect(leader.committed).toBe(b + 11);

    // Heartbeat responses from the follower must not overflow the window: at most an empty probe.
    net.tick(3);
    expect(withEntries().length).toBe(2);
    expect(unacked()).toBe(2);

    // Acknowledge the held appends one at a time.
    while (held.length > 0) {
      net.inject(held.shift()!);
      net.stabilize();
      expect(unacked()).toBeLessThanOrEqual(2);
      expect(progress2().inflights.length).toBeLessThanOrEqual(2);
    }
    net.intercept = null;
    net.tick(1);
    expect(net.node(2).logTerms()).toEqual(leader.logTerms());
    expect(net.node(2).appliedData()).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`));
  });

  it("maxSizePerMsg bounds the entries of one append (but one entry always goes)", () => {
    const net = new Network({ config: { maxSizePerMsg: 250 } });
    const b = net.bootIndex;
    net.elect(1);
    net.isolate(3);
    const payload = "x".repeat(100); // entrySize 124: two entries fit in 250 bytes, three do not
    for (let i = 0; i < 10; i++) net.propose(1, payload);
    net.propose(1, "y".repeat(1000)); // larger than the limit on its own
    net.heal();
    net.clearSent();
    net.tick(2);
    const apps = net.sentOf(MessageType.App, { from: 1, to: 3 }).filter((m) => m.entries.length > 0);
    expect(apps.map((m) => m.entries.length)).toEqual([2, 2, 2, 2, 2, 1]);
    for (const m of apps.slice(0, 5)) expect(m.entries.reduce((s, e) => s + entrySize(e), 0)).toBeLessThanOrEqual(250);
    expect(net.node(3).lastIndex).toBe(b + 12);
    expect(net.node(3).logTerms()).toEqual(net.node(1).logTerms());
  });
});

describe("heartbeats under writes", () => {
  const beatsTo = (net: Network, to: number): number => net.sentOf(MessageType.Heartbeat, { from: 1, to }).length;

  it("an idle leader heartbeats every follower each round", () => {
    const net = new Network();
    net.elect(1);
    net.tick(1); // the round that follows the election's appends
    net.clearSent();
    net.tick(3);
    expect([beatsTo(net, 2), beatsTo(net, 3)]).toEqual([3, 3]);
  });

  it("a round skips a follower that acknowledged everything sent to it since the last round", () => {
    const net = new Network();
    net.elect(1);
    net.tick(1);
    net.clearSent();
    for (let round = 0; round < 3; round++) {
      net.propose(1, `w${round}`);
      net.tick(1);
    }
    expect([beatsTo(net, 2), beatsTo(net, 3)]).toEqual([0, 0]);
    // The followers still hear from the leader every round, and none of them campaigned.
    expect(net.node(2).state).toBe(StateType.Follower);
    expect(net.node(2).appliedData()).toEqual(["w0", "w1", "w2"]);
    // Rounds without writes heartbeat again.
    net.clearSent();
    net.tick(2);
    expect([beatsTo(net, 2), beatsTo(net, 3)]).toEqual([2, 2]);
  });

  it("a follower that has not acknowledged the last append is still heartbeaten", () => {
    const net = new Network();
    net.elect(1);
    net.tick(1);
    net.propose(1, "seen by both");
    net.isolate(3);
    net.propose(1, "lost on the way to 3");
    net.clearSent();
    net.tick(1);
    expect([beatsTo(net, 2), beatsTo(net, 3)]).toEqual([0, 1]);
    net.heal();
    net.tick(1);
    expect(net.node(3).appliedData()).toEqual(["seen by both", "lost on the way to 3"]);
  });

  it("while a read waits for acknowledgements every follower is heartbeaten with its context", () => {
    const net = new Network();
    net.elect(1);
    net.tick(1);
    net.isolate(2);
    net.isolate(3);
    net.node(1).raw.readIndex(bytes("r"));
    net.stabilize(); // its heartbeats are lost
    net.heal();
    net.propose(1, "w");
    net.clearSent();
    net.tick(1);
    expect(net.sentOf(MessageType.Heartbeat, { from: 1 }).map((m) => [m.to, new TextDecoder().decode(m.context)])).toEqual([
      [2, "r"],
      [3, "r"],
    ]);
  });
});

describe("proposal refusals", () => {
  it("a follower refuses a proposal with NotLeaderError naming the leader (proposals are not forwarded)", () => {
    const net = new Network();
    net.elect(1);
    let err: unknown;
    try {
      net.node(2).raw.propose(bytes("x"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leader).toBe(1);
    expect((err as NotLeaderError).code).toBe("RAFT_NOT_LEADER");
    expect(net.node(2).raw.hasReady()).toBe(false);
    expect(net.node(1).lastIndex).toBe(net.bootIndex + 1);
  });

  it("a member that knows no leader, or a candidate, refuses with NotLeaderError and leader 0", () => {
    const net = new Network({ config: { preVote: false } });
    expect(() => net.node(2).raw.propose(bytes("x"))).toThrow(expect.objectContaining({ name: "NotLeaderError", leader: 0 }));
    net.node(2).raw.campaign();
    expect(net.node(2).state).toBe(StateType.Candidate);
    expect(() => net.node(2).raw.propose(bytes("x"))).toThrow(expect.objectContaining({ name: "NotLeaderError", leader: 0 }));
  });

  it("a proposal during a leadership transfer is refused with ProposalDroppedError, and accepted again once it is aborted", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    net.isolate(3);
    net.propose(1, "x");
    const leader = net.node(1);
    leader.raw.transferLeadership(3); // 3 is behind: the leader first tries to catch it up
    net.stabilize();
    expect(leader.raw.status().leadTransferee).toBe(3);
    expect(() => leader.raw.propose(bytes("y"))).toThrow(ProposalDroppedError);
    expect(() => leader.raw.propose(bytes("y"))).toThrow(/transferred to member 3/);
    expect(leader.lastIndex).toBe(b + 2);
    // The transfer gives up after an election timeout; the leader takes proposals again.
    net.tick(TEST_ELECTION_TICK, [1]);
    expect(leader.state).toBe(StateType.Leader);
    expect(leader.raw.status().leadTransferee).toBe(0);
    expect(net.propose(1, "y")).toBe(b + 3);
  });

  it("the leader refuses proposals beyond maxUncommittedEntriesSize until entries commit", () => {
    const net = new Network({ config: { maxUncommittedEntriesSize: 100 } });
    net.elect(1);
    net.isolate(2);
    net.isolate(3);
    net.propose(1, "a".repeat(60));
    expect(() => net.node(1).raw.propose(bytes("b".repeat(60)))).toThrow(ProposalDroppedError);
    net.heal();
    net.tick(1);
    expect(net.node(1).appliedData()).toEqual(["a".repeat(60)]);
    net.propose(1, "b".repeat(60));
    expect(net.node(1).appliedData()).toEqual(["a".repeat(60), "b".repeat(60)]);
  });
});
