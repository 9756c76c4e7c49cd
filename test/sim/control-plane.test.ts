// Seeded simulation of the whole control plane: the Control API, allocator, orchestrators, restart
// supervisor, task reaper, constraint enforcer and scheduler on one store, with simulated agents and
// a fake clock. Nodes join, fail, come back, are drained, paused, relabelled, resized and removed;
// services are created, scaled, re-constrained and removed; running tasks fail. After every step the
// cluster settles and must hold the invariants (invariants.ts), and no task state ever moved
// backwards (task-history.ts). A failure names the seed, the step log and the cluster as it was.
// Environment: SIM_SEEDS=n runs seeds 1..n (default 100); SIM_SEED=k runs only seed k; SIM_STEPS=n
// steps per seed (default 40).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { seededRandom } from "../../agent/executor/sim/random.js";
import { Harness } from "./harness.js";
import { checkInvariants, dumpCluster } from "./invariants.js";
import { Dice } from "./model.js";
import { Scenario } from "./scenario.js";
import { TaskHistory } from "./task-history.js";

const STEPS = Number(process.env["SIM_STEPS"] ?? 40);
const INITIAL_NODES = 4;
const INITIAL_SERVICES = 2;
const SEEDS = process.env["SIM_SEED"] ? [Number(process.env["SIM_SEED"])] : Array.from({ length: Number(process.env["SIM_SEEDS"] ?? 100) }, (_, i) => i + 1);

/** Runs one seed; resolves with the step log, or throws naming the seed, the log and the cluster. */
async function runSeed(seed: number): Promise<string[]> {
  const h = new Harness();
  const history = new TaskHistory(h.store);
  const scenario = new Scenario(h, new Dice(seededRandom(seed)));
  const log: string[] = [];
  try {
    await h.start();
    for (let i = 0; i < INITIAL_NODES; i++) log.push(`setup: ${await scenario.addNode()}`);
    for (let i = 0; i < INITIAL_SERVICES; i++) log.push(`setup: ${await scenario.createService()}`);
    await h.settle();
    for (let step = 1; step <= STEPS; step++) {
      const did = await scenario.step();
      const ms = await h.settle();
      log.push(`step ${step}: ${did} (settled in ${ms} ms)`);
      const violations = [...h.errors.splice(0).map((e) => `component error: ${e}`), ...history.takeViolations(), ...checkInvariants(scenario.model, h.store)];
      if (violations.length > 0) {
        throw new Error(
          `seed ${seed}, after step ${step}:\n  ${violations.join("\n  ")}\nstep log:\n  ${log.join("\n  ")}\ncluster:\n${dumpCluster(scenario.model, h.store)}`,
        );
      }
    }
    return log;
  } catch (e) {
    if ((e as Error).message.startsWith(`seed ${seed},`)) throw e;
    throw new Error(`seed ${seed}: ${(e as Error).message}\nstep log:\n  ${log.join("\n  ")}`, { cause: e });
  } finally {
    await h.stop();
    await history.close();
  }
}

describe(`control plane simulation (${STEPS} steps per seed)`, () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(SEEDS)("seed %i keeps every invariant after every step", async (seed) => {
    const log = await runSeed(seed);
    expect(log).toHaveLength(INITIAL_NODES + INITIAL_SERVICES + STEPS);
  });
});
