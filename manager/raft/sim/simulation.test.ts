// Seeded simulations of 3- and 5-member clusters under loss, duplication, reordering, partitions,
// crashes and membership changes. RAFT_SEED=<n> replays one seed; RAFT_SEEDS=<n> sets the count.
import { describe, expect, it } from "vitest";
import { Simulation } from "./simulation.js";

const only = process.env["RAFT_SEED"];
const count = Number(process.env["RAFT_SEEDS"] ?? 1000);
const seeds = only !== undefined ? [Number(only)] : Array.from({ length: count }, (_, i) => i + 1);

describe("raft simulation", () => {
  for (const members of [3, 5]) {
    const mine = seeds.filter((s) => only !== undefined || s % 2 === members % 2);
    it(`${members} members: safety holds and acknowledged writes survive, ${mine.length} seeds`, () => {
      let acked = 0;
      let leaders = 0;
      let snapshots = 0;
      let changes = 0;
      let reads = 0;
      for (const seed of mine) {
        const r = new Simulation({ seed, members, steps: 5000 }).run();
        acked += r.acked;
        leaders += r.leadersElected;
        snapshots += r.snapshotsSent;
        changes += r.confChanges;
        reads += r.reads;
      }
      // The runs must actually exercise the features, or the invariants prove nothing.
      expect(acked).toBeGreaterThan(mine.length * 10);
      expect(leaders).toBeGreaterThan(mine.length);
      if (mine.length >= 20) {
        expect(snapshots).toBeGreaterThan(0);
        expect(changes).toBeGreaterThan(0);
        expect(reads).toBeGreaterThan(0);
      }
    });
  }
});
