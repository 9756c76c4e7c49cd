// A Proposer without Raft: applies each proposal at the next index, asynchronously, as a single
// manager would. For tests of components that sit on the store (SwarmKit does the same).
import type { MemoryStore, Proposer } from "./store.js";

export class LocalProposer implements Proposer {
  private index: number;

  constructor(
    private readonly store: MemoryStore,
    startIndex = 0,
  ) {
    this.index = startIndex;
  }

  async propose(data: Uint8Array): Promise<unknown> {
    await Promise.resolve();
    return this.store.apply(data, ++this.index);
  }
}
