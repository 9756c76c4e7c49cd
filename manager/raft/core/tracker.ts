// The membership (voters and learners) and the leader's progress for each member.
import { Progress } from "./progress.js";
import { committedIndex, majority, voteResult, type VoteResult } from "./quorum.js";
import type { ConfState, NodeId } from "./types.js";

export class ProgressTracker {
  readonly voters = new Set<NodeId>();
  readonly learners = new Set<NodeId>();
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  /** Adds or changes a member; a new member starts probing at `next`. */
  set(id: NodeId, isLearner: boolean, next: number): Progress {
    let pr = this.progress.get(id);
    if (!pr) {
      pr = new Progress(next, this.maxInflight, this.maxInflightBytes, isLearner);
      this.progress.set(id, pr);
    }
    pr.isLearner = isLearner;
    if (isLearner) {
      this.voters.delete(id);
      this.learners.add(id);
    } else {
      this.learners.delete(id);
      this.voters.add(id);
    }
    return pr;
  }

  remove(id: NodeId): void {
    this.voters.delete(id);
    this.learners.delete(id);
    this.progress.delete(id);
    this.votes.delete(id);
  }

  isMember(id: NodeId): boolean {
    return this.progress.has(id);
  }

  confState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  /** The largest index replicated on a majority of voters. */
  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  /** Whether a majority of voters were heard from recently. */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.voters) if (id === self || this.progress.get(id)?.recentActive) active++;
    return active >= majority(this.voters.size);
  }

  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return { granted, rejected, result: voteResult(this.voters, this.votes) };
  }
}
