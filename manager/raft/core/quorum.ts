// Majority arithmetic: the index a majority has, and the outcome of a vote.
import type { NodeId } from "./types.js";

export const VoteResult = { Pending: "pending", Won: "won", Lost: "lost" } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/** The size of a majority of `n` voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** The highest index acknowledged by a majority of `voters` (Infinity with no voters). */
export function committedIndex(voters: Iterable<NodeId>, matchOf: (id: NodeId) => number): number {
  const matches: number[] = [];
  for (const id of voters) matches.push(matchOf(id));
  if (matches.length === 0) return Infinity;
  matches.sort((a, b) => b - a);
  return matches[majority(matches.length) - 1]!;
}

/** The outcome of a vote among `voters` given the answers so far. */
export function voteResult(voters: Iterable<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let n = 0;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    n++;
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  if (n === 0) return VoteResult.Won;
  const q = majority(n);
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
