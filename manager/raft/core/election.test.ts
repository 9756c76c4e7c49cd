// Leader election (§5.2, §5.4.1 of the Raft paper; pre-vote, check-quorum and the leader lease
// from §9.6 and §6.2 of Ongaro's thesis).
import { describe, expect, it } from "vitest";
import { Network, TEST_ELECTION_TICK, type TestNode } from "./test-network.js";
import { MessageType, NONE, StateType, message, type Message, type NodeId } from "./types.js";

/** Handles every pending Ready of `n` without a network; returns the messages it would send. */
function drain(n: TestNode): Message[] {
  const out: Message[] = [];
  while (n.raw.hasReady()) out.push(...n.handleReady());
  return out;
}

function summary(ms: Message[]): { type: MessageType; to: NodeId; term: number; reject: boolean }[] {
  return ms.map((m) => ({ type: m.type, to: m.to, term: m.term, reject: m.reject }));
}

/** Ticks `n` alone until it sends vote or pre-vote requests; returns the number of ticks. */
function ticksUntilCampaign(n: TestNode, max = 1000): number {
  drain(n);
  for (let i = 1; i <= max; i++) {
    n.raw.tick();
    if (drain(n).some((m) => m.type === MessageType.Vote || m.type === MessageType.PreVote)) return i;
  }
  throw new Error("never campaigned");
}

/** Ticks `n` alone (without handling Readys) until its state changes; returns the number of ticks. */
function ticksUntilStateChange(n: TestNode, max = 1000): number {
  const start = n.state;
  for (let i = 1; i <= max; i++) {
    n.raw.tick();
    if (n.state !== start) return i;
  }
  throw new Error("state never changed");
}

describe("election timeout (§5.2)", () => {
  it("§5.2: a follower that hears nothing becomes candidate after its randomized timeout, votes for itself and requests votes", () => {
    const net = new Network({ config: { preVote: false } });
    const n = net.node(1);
    expect(n.term).toBe(1);
    const ticks = ticksUntilStateChange(n);
    expect(ticks).toBeGreaterThanOrEqual(TEST_ELECTION_TICK);
    expect(ticks).toBeLessThan(2 * TEST_ELECTION_TICK);
    expect(n.state).toBe(StateType.Candidate);
    expect(n.term).toBe(2);
    expect(n.raw.raft.vote).toBe(1);
    const out = drain(n);
    expect(out.map((m) => ({ type: m.type, to: m.to, term: m.term, index: m.index, logTerm: m.logTerm }))).toEqual([
      { type: MessageType.Vote, to: 2, term: 2, index: net.bootIndex, logTerm: 1 },
      { type: MessageType.Vote, to: 3, term: 2, index: net.bootIndex, logTerm: 1 },
    ]);
    // The vote for itself is durable before any request goes out.
    expect(n.storage.initialState().hardState).toEqual({ term: 2, vote: 1, commit: net.bootIndex });
  });

  it("pre-vote (§9.6 thesis): the timed-out follower becomes pre-candidate without changing term or vote", () => {
    const net = new Network();
    const n = net.node(1);
    ticksUntilStateChange(n);
    expect(n.state).toBe(StateType.PreCandidate);
    expect(n.term).toBe(1);
    expect(n.raw.raft.vote).toBe(NONE);
    expect(summary(drain(n))).toEqual([
      { type: MessageType.PreVote, to: 2, term: 2, reject: false },
      { type: MessageType.PreVote, to: 3, term: 2, reject: false },
    ]);
    // One grant (plus its own) is a majority of 3: now it campaigns for real in term 2.
    n.raw.step(message({ type: MessageType.PreVoteResp, from: 2, to: 1, term: 2 }));
    expect(n.state).toBe(StateType.Candidate);
    expect(n.term).toBe(2);
    expect(n.raw.raft.vote).toBe(1);
    expect(summary(drain(n))).toEqual([
      { type: MessageType.Vote, to: 2, term: 2, reject: false },
      { type: MessageType.Vote, to: 3, term: 2, reject: false },
    ]);
  });

  it("§5.2: randomized election timeouts lie in [electionTick, 2*electionTick), are reproducible per seed and differ across seeds", () => {
    const measure = (seed: number): number[] => {
      const net = new Network({ seed });
      const n = net.node(1);
      // Several successive timeouts: each failed pre-vote re-randomizes the timer.
      return [ticksUntilCampaign(n), ticksUntilCampaign(n), ticksUntilCampaign(n)];
    };
    const firsts = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const a = measure(seed);
      expect(measure(seed)).toEqual(a); // same seed, same timeouts
      firsts.add(a[0]!);
      for (const t of a) {
        expect(t).toBeGreaterThanOrEqual(TEST_ELECTION_TICK);
        expect(t).toBeLessThan(2 * TEST_ELECTION_TICK);
      }
    }
    // 20 seeds over 10 possible values: a constant timeout would give 1.
    expect(firsts.size).toBeGreaterThanOrEqual(5);
    // Members of one cluster do not all share the same timeout.
    const net = new Network({ voters: [1, 2, 3, 4, 5], seed: 7 });
    const perNode = new Set([1, 2, 3, 4, 5].map((id) => ticksUntilCampaign(net.node(id))));
    expect(perNode.size).toBeGreaterThan(1);
  });
});

describe("winning and losing an election (§5.2)", () => {
  const cases: { size: number; votes: Record<number, boolean>; want: StateType }[] = [
    { size: 1, votes: {}, want: StateType.Leader },
    { size: 3, votes: { 2: true, 3: true }, want: StateType.Leader },
    { size: 3, votes: { 2: true }, want: StateType.Leader },
    { size: 5, votes: { 2: true, 3: true, 4: true, 5: true }, want: StateType.Leader },
    { size: 5, votes: { 2: true, 3: true, 4: true }, want: StateType.Leader },
    { size: 5, votes: { 2: true, 3: true }, want: StateType.Leader },
    // no majority yet: stays candidate
    { size: 3, votes: {}, want: StateType.Candidate },
    { size: 5, votes: { 2: true }, want: StateType.Candidate },
    { size: 5, votes: { 2: true, 3: false }, want: StateType.Candidate },
    { size: 5, votes: {}, want: StateType.Candidate },
    // a majority rejected: back to follower in the same term
    { size: 3, votes: { 2: false, 3: false }, want: StateType.Follower },
    { size: 5, votes: { 2: false, 3: false, 4: false }, want: StateType.Follower },
    { size: 5, votes: { 2: true, 3: false, 4: false, 5: false }, want: StateType.Follower },
  ];
  for (const c of cases) {
    it(`§5.2: ${c.size} voters, responses ${JSON.stringify(c.votes)} -> ${c.want}`, () => {
      const voters = Array.from({ length: c.size }, (_, i) => i + 1);
      const net = new Network({ voters, config: { preVote: false } });
      const n = net.node(1);
      n.raw.campaign();
      drain(n);
      for (const [from, granted] of Object.entries(c.votes)) {
        n.raw.step(message({ type: MessageType.VoteResp, from: Number(from), to: 1, term: 2, reject: !granted }));
      }
      expect(n.state).toBe(c.want);
      expect(n.term).toBe(2);
      if (c.want === StateType.Leader) expect(n.lead).toBe(1);
      else expect(n.lead).toBe(NONE);
    });
  }

  it("§5.2: a vote counted twice is counted once", () => {
    const net = new Network({ voters: [1, 2, 3, 4, 5], config: { preVote: false } });
    const n = net.node(1);
    n.raw.campaign();
    for (let i = 0; i < 3; i++) n.raw.step(message({ type: MessageType.VoteResp, from: 2, to: 1, term: 2 }));
    expect(n.state).toBe(StateType.Candidate);
    n.raw.step(message({ type: MessageType.VoteResp, from: 3, to: 1, term: 2 }));
    expect(n.state).toBe(StateType.Leader);
  });

  it("§5.2: the winner of a full election is the only leader and every member follows it", () => {
    const net = new Network({ voters: [1, 2, 3, 4, 5], config: { preVote: false } });
    net.campaign(3);
    for (const n of net.nodes.values()) {
      expect(n.term).toBe(2);
      expect(n.lead).toBe(3);
      expect(n.state).toBe(n.id === 3 ? StateType.Leader : StateType.Follower);
    }
  });

  it("§5.2: a candidate that receives an append from a leader of its term becomes follower of it", () => {
    const net = new Network({ config: { preVote: false } });
    const n = net.node(1);
    n.raw.campaign();
    drain(n);
    n.raw.step(message({ type: MessageType.Heartbeat, from: 2, to: 1, term: 2, commit: 0 }));
    expect(n.state).toBe(StateType.Follower);
    expect(n.term).toBe(2);
    expect(n.lead).toBe(2);
  });

  it("§5.1: a candidate that sees a higher term steps down to follower in that term", () => {
    for (const [type, lead] of [
      [MessageType.App, 3],
      [MessageType.Heartbeat, 3],
      [MessageType.VoteResp, NONE],
      [MessageType.AppResp, NONE],
    ] as const) {
      const net = new Network({ config: { preVote: false } });
      const n = net.node(1);
      n.raw.campaign();
      drain(n);
      expect(n.state).toBe(StateType.Candidate);
      n.raw.step(message({ type, from: 3, to: 1, term: 5, reject: true, index: net.bootIndex, logTerm: 1 }));
      expect([type, n.state, n.term, n.lead, n.raw.raft.vote]).toEqual([type, StateType.Follower, 5, lead, NONE]);
    }
  });

  it("§5.1: a leader that sees a higher term steps down", () => {
    const net = new Network();
    net.elect(1);
    const n = net.node(1);
    const term = n.term;
    n.raw.step(message({ type: MessageType.AppResp, from: 2, to: 1, term: term + 3 }));
    expect(n.state).toBe(StateType.Follower);
    expect(n.term).toBe(term + 3);
    expect(n.lead).toBe(NONE);
  });
});

describe("voting rules", () => {
  it("§5.2: a member votes for at most one candidate per term (and re-grants to the same one)", () => {
    const net = new Network({ config: { preVote: false } });
    const n = net.node(1);
    const vote = (from: NodeId): Message[] => {
      n.raw.step(message({ type: MessageType.Vote, from, to: 1, term: 2, index: net.bootIndex, logTerm: 1 }));
      return drain(n);
    };
    expect(summary(vote(2))).toEqual([{ type: MessageType.VoteResp, to: 2, term: 2, reject: false }]);
    expect(n.raw.raft.vote).toBe(2);
    // The vote is persisted (the Ready carrying the grant also carried the hard state).
    expect(n.storage.initialState().hardState.vote).toBe(2);
    expect(summary(vote(3))).toEqual([{ type: MessageType.VoteResp, to: 3, term: 2, reject: true }]);
    expect(summary(vote(2))).toEqual([{ type: MessageType.VoteResp, to: 2, term: 2, reject: false }]);
    expect(n.raw.raft.vote).toBe(2);
  });

  it("§5.2: the grant is in the same Ready as the durable vote, marked mustSync", () => {
    const net = new Network({ config: { preVote: false } });
    const n = net.node(1);
    n.raw.step(message({ type: MessageType.Vote, from: 2, to: 1, term: 2, index: net.bootIndex, logTerm: 1 }));
    const rd = n.raw.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: 2, commit: net.bootIndex });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => [m.type, m.reject])).toEqual([[MessageType.VoteResp, false]]);
    n.raw.advance();
  });

  // Voter's log after the bootstrap entries: terms [1, 2] -> last entry (b+2, term 2).
  const upToDate: { index: number; logTerm: number; grant: boolean; why: string }[] = [
    { index: 2, logTerm: 2, grant: true, why: "same last term and index" },
    { index: 3, logTerm: 2, grant: true, why: "same last term, longer log" },
    { index: 1, logTerm: 2, grant: false, why: "same last term, shorter log" },
    { index: 5, logTerm: 1, grant: false, why: "older last term though longer" },
    { index: 1, logTerm: 3, grant: true, why: "newer last term though shorter" },
    { index: 0, logTerm: 1, grant: false, why: "older last term and shorter" },
  ];
  for (const c of upToDate) {
    it(`§5.4.1: vote only for an up-to-date log: ${c.why} -> ${c.grant ? "grant" : "reject"}`, () => {
      const net = new Network({ config: { preVote: false }, nodes: { 1: { log: [1, 2] } } });
      const n = net.node(1);
      const b = net.bootIndex;
      n.raw.step(message({ type: MessageType.Vote, from: 2, to: 1, term: 3, index: b + c.index, logTerm: c.logTerm }));
      expect(summary(drain(n))).toEqual([{ type: MessageType.VoteResp, to: 2, term: 3, reject: !c.grant }]);
      expect(n.term).toBe(3);
      expect(n.raw.raft.vote).toBe(c.grant ? 2 : NONE);
    });
  }

  it("§5.4.1: a candidate with a stale log cannot win; a member with the longest log can", () => {
    const net = new Network({
      config: { preVote: false },
      nodes: { 1: { log: [1] }, 2: { log: [1, 2] }, 3: { log: [1, 2] } },
    });
    net.campaign(1);
    expect(net.node(1).state).toBe(StateType.Follower);
    expect(net.leader()).toBeNull();
    net.campaign(2);
    expect(net.leader()?.id).toBe(2);
    // The winner's log did not lose any entry: the member with the short log caught up instead.
    expect(net.node(1).logTerms()).toEqual([1, 1, 1, 1, 2, 3]);
  });
});

describe("pre-vote (§9.6 of the thesis)", () => {
  it("a partitioned member keeps its term and does not disrupt the leader when it rejoins", () => {
    const net = new Network();
    net.elect(1);
    const term = net.node(1).term;
    net.isolate(3);
    net.tick(100);
    // It campaigned repeatedly but only in pre-vote: no term was spent.
    expect(net.sentOf(MessageType.PreVote, { from: 3 }).length).toBeGreaterThanOrEqual(5);
    expect(net.sentOf(MessageType.Vote, { from: 3 })).toEqual([]);
    expect(net.node(3).term).toBe(term);
    net.heal();
    net.tick(3 * TEST_ELECTION_TICK);
    for (const n of net.nodes.values()) {
      expect([n.id, n.term, n.lead]).toEqual([n.id, term, 1]);
    }
    expect(net.node(1).state).toBe(StateType.Leader);
  });

  it("contrast: without pre-vote the same partition inflates the term and deposes the leader", () => {
    const net = new Network({ config: { preVote: false } });
    net.elect(1);
    const term = net.node(1).term;
    net.isolate(3);
    net.tick(100);
    const inflated = net.node(3).term;
    expect(inflated).toBeGreaterThanOrEqual(term + 5);
    net.heal();
    net.tick(3 * TEST_ELECTION_TICK);
    expect(net.node(1).term).toBeGreaterThanOrEqual(inflated);
    expect(net.leader()!.term).toBeGreaterThan(term);
  });

  it("a pre-vote request never changes the receiver's term or vote", () => {
    const net = new Network();
    const n = net.node(1);
    n.raw.step(message({ type: MessageType.PreVote, from: 2, to: 1, term: 7, index: net.bootIndex, logTerm: 1 }));
    expect(summary(drain(n))).toEqual([{ type: MessageType.PreVoteResp, to: 2, term: 7, reject: false }]);
    expect(n.term).toBe(1);
    expect(n.raw.raft.vote).toBe(NONE);
    expect(n.state).toBe(StateType.Follower);
  });
});

describe("check-quorum (§6.2 of the thesis)", () => {
  it("a leader cut off from the majority steps down after two election timeouts, keeping its term", () => {
    const net = new Network();
    net.elect(1);
    const term = net.node(1).term;
    net.isolate(1);
    let ticks = 0;
    while (net.node(1).state === StateType.Leader && ticks < 100) {
      net.tick(1, [1]);
      ticks++;
    }
    // The first check after isolation still sees the responses to the election round; the second does not.
    expect(ticks).toBe(2 * TEST_ELECTION_TICK);
    expect(net.node(1).state).toBe(StateType.Follower);
    expect(net.node(1).lead).toBe(NONE);
    expect(net.node(1).term).toBe(term);
  });

  it("a leader that hears from a majority stays leader", () => {
    const net = new Network({ voters: [1, 2, 3, 4, 5] });
    net.elect(1);
    net.isolate(4);
    net.isolate(5);
    net.tick(10 * TEST_ELECTION_TICK, [1]);
    expect(net.node(1).state).toBe(StateType.Leader);
  });

  it("contrast: without check-quorum the cut-off leader never steps down", () => {
    const net = new Network({ config: { checkQuorum: false } });
    net.elect(1);
    net.isolate(1);
    net.tick(10 * TEST_ELECTION_TICK, [1]);
    expect(net.node(1).state).toBe(StateType.Leader);
  });
});

describe("leader lease (§6.2 of the thesis)", () => {
  it("a follower in lease ignores a higher-term vote request, and grants it once the lease lapsed", () => {
    const net = new Network();
    net.elect(1);
    const term = net.node(1).term;
    const n = net.node(2);
    const b = net.node(1).lastIndex;
    for (const type of [MessageType.Vote, MessageType.PreVote]) {
      n.raw.step(message({ type, from: 3, to: 2, term: term + 1, index: b, logTerm: term }));
      expect(drain(n)).toEqual([]);
      expect(n.term).toBe(term);
      expect(n.lead).toBe(1);
    }
    // The leader falls silent for an election timeout.
    for (let i = 0; i < TEST_ELECTION_TICK; i++) n.raw.tick();
    drain(n);
    n.raw.step(message({ type: MessageType.Vote, from: 3, to: 2, term: term + 1, index: b, logTerm: term }));
    expect(summary(drain(n))).toEqual([{ type: MessageType.VoteResp, to: 3, term: term + 1, reject: false }]);
    expect(n.term).toBe(term + 1);
    expect(n.raw.raft.vote).toBe(3);
  });

  it("without check-quorum there is no lease: the vote is granted at once", () => {
    const net = new Network({ config: { checkQuorum: false } });
    net.elect(1);
    const term = net.node(1).term;
    const n = net.node(2);
    n.raw.step(message({ type: MessageType.Vote, from: 3, to: 2, term: term + 1, index: n.lastIndex, logTerm: term }));
    expect(summary(drain(n))).toEqual([{ type: MessageType.VoteResp, to: 3, term: term + 1, reject: false }]);
  });
});
