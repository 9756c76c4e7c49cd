// Majority arithmetic (§5.2, §5.3): the commit index a majority has, and vote outcomes, checked
// against naive oracles over many seeded random cases.
import { describe, expect, it } from "vitest";
import { committedIndex, majority, voteResult, VoteResult } from "./quorum.js";
import { seededRandom } from "./random.js";
import type { NodeId } from "./types.js";

/** The largest index v such that a majority of voters have match >= v. */
function naiveCommitted(matches: number[]): number {
  if (matches.length === 0) return Infinity;
  let best = 0;
  for (const v of [0, ...matches]) {
    const have = matches.filter((m) => m >= v).length;
    if (have * 2 > matches.length && v > best) best = v;
  }
  return best;
}

function naiveVote(voters: NodeId[], votes: Map<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return VoteResult.Won;
  const yes = voters.filter((id) => votes.get(id) === true).length;
  const no = voters.filter((id) => votes.get(id) === false).length;
  if (yes * 2 > voters.length) return VoteResult.Won;
  if (no * 2 >= voters.length) return VoteResult.Lost;
  return VoteResult.Pending;
}

describe("quorum", () => {
  it("majority(n) is the smallest count larger than half", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
  });

  it("committedIndex: fixed cases", () => {
    const c = (ms: number[]) => committedIndex(ms.map((_, i) => i + 1), (id) => ms[id - 1]!);
    expect(c([])).toBe(Infinity);
    expect(c([7])).toBe(7);
    expect(c([5, 0])).toBe(0);
    expect(c([5, 3])).toBe(3);
    expect(c([5, 3, 0])).toBe(3);
    expect(c([1, 2, 3, 4])).toBe(2);
    expect(c([9, 9, 1, 1, 1])).toBe(1);
    expect(c([9, 9, 9, 1, 1])).toBe(9);
  });

  it("committedIndex matches the naive oracle on 2000 random cases", () => {
    const rand = seededRandom(42);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rand() * 8); // 0..7 voters
      const matches = Array.from({ length: n }, () => Math.floor(rand() * 12));
      const ids = matches.map((_, k) => 100 + k * 3);
      const got = committedIndex(ids, (id) => matches[(id - 100) / 3]!);
      expect([matches, got]).toEqual([matches, naiveCommitted(matches)]);
    }
  });

  it("voteResult matches the naive oracle on 2000 random cases (votes of non-voters are ignored)", () => {
    const rand = seededRandom(7);
    const seen = new Set<VoteResult>();
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rand() * 8);
      const voters = Array.from({ length: n }, (_, k) => k + 1);
      const votes = new Map<NodeId, boolean>();
      for (const id of [...voters, 50, 51]) {
        const r = rand();
        if (r < 0.4) votes.set(id, true);
        else if (r < 0.7) votes.set(id, false);
      }
      const got = voteResult(voters, votes);
      seen.add(got);
      expect([voters, [...votes], got]).toEqual([voters, [...votes], naiveVote(voters, votes)]);
    }
    expect(seen.size).toBe(3);
  });

  it("voteResult: fixed cases", () => {
    const v = (n: number, entries: [NodeId, boolean][]) => voteResult(Array.from({ length: n }, (_, i) => i + 1), new Map(entries));
    expect(v(0, [])).toBe(VoteResult.Won);
    expect(v(1, [[1, true]])).toBe(VoteResult.Won);
    expect(v(3, [[1, true]])).toBe(VoteResult.Pending);
    expect(v(3, [[1, true], [2, true]])).toBe(VoteResult.Won);
    expect(v(3, [[2, false], [3, false]])).toBe(VoteResult.Lost);
    expect(v(4, [[1, true], [2, true], [3, false]])).toBe(VoteResult.Pending);
    expect(v(4, [[1, true], [2, false], [3, false]])).toBe(VoteResult.Lost);
    expect(v(3, [[1, true], [9, true]])).toBe(VoteResult.Pending);
  });
});
