// The rolling updater run by the replicated orchestrator on a store, with a fake clock, the control
// API for updates and rollbacks, and a simulated agent that moves tasks forward one write at a time.
import { afterEach, describe, expect, it } from "vitest";
import type { Service, Task } from "../../proto/gen/objects.js";
import { ServiceSpec } from "../../proto/gen/specs.js";
import { TaskState as S, UpdateFailureAction as Action, UpdateOrder, UpdateState, type UpdateConfig } from "../../proto/gen/types.js";
import { ControlService } from "../controlapi/index.js";
import type { MemoryStore } from "../store/index.js";
import { replicatedMode } from "./modes.js";
import { ServiceOrchestrator } from "./service-orchestrator.js";
import { FakeClock, makeNode, newStore, put, quiesce, report, sequentialIds, tasksOf } from "./test-support.js";

let running: ServiceOrchestrator[] = [];
afterEach(async () => {
  for (const o of running) await o.stop();
  running = [];
});

const imageOf = (t: Task): string => (t.spec?.runtime?.$case === "container" ? t.spec.runtime.container.image : "");
const spec = (image: string, update: Partial<UpdateConfig> = {}, replicas = 6): ServiceSpec =>
  ServiceSpec.fromPartial({
    annotations: { name: "web" },
    mode: { $case: "replicated", replicated: { replicas } },
    task: { runtime: { $case: "container", container: { image } }, restart: { delayMs: 0 } },
    update: { parallelism: 1, ...update },
    rollback: { parallelism: 0 },
  });

/** An agent's behaviour for a task: run it, fail it before it runs, or leave it where it is. */
type Behaviour = (t: Task) => "run" | "fail" | "stuck";
const byImage: Behaviour = (t) => (imageOf(t) === "bad" ? "fail" : imageOf(t) === "stuck" ? "stuck" : "run");

async function setup() {
  const clock = new FakeClock();
  const store = newStore(clock);
  const errors: Error[] = [];
  const control = new ControlService({ store, now: clock.now, newId: () => "web" });
  for (const id of ["n1", "n2", "n3"]) await put(store, "node", makeNode({ id }));
  const ids = sequentialIds();
  const start = (): ServiceOrchestrator => {
    const o = new ServiceOrchestrator(store, replicatedMode(), { clock, newId: ids, onError: (e) => errors.push(e) });
    o.start();
    running.push(o);
    return o;
  };
  return { clock, store, errors, control, start };
}
type Harness = Awaited<ReturnType<typeof setup>>;

const serviceOf = (store: MemoryStore): Service => store.view((r) => r.get("service", "web")) as unknown as Service;
const stateOf = (store: MemoryStore): UpdateState | undefined => serviceOf(store).updateStatus?.state;
/** Tasks desired RUNNING and observed RUNNING. */
const runningTasks = (store: MemoryStore): Task[] =>
  tasksOf(store, "web").filter((t) => t.desiredState === S.TASK_STATE_RUNNING && t.status?.state === S.TASK_STATE_RUNNING);

async function update(h: Harness, next: ServiceSpec): Promise<void> {
  await h.control.updateService({ serviceId: "web", serviceVersion: serviceOf(h.store).meta?.version, spec: next, rollback: false });
}

/** Slots in which two tasks were observed RUNNING at once. */
const doublyRunSlots = (store: MemoryStore): number[] => {
  const slots = tasksOf(store, "web").filter((t) => t.status?.state === S.TASK_STATE_RUNNING).map((t) => t.slot);
  return slots.filter((slot, i) => slots.indexOf(slot) !== i);
};

interface AgentOptions {
  behave?: Behaviour;
  /** How long a task takes to stop once asked (its stop grace period). Default 0. */
  stopMs?: number;
  /** Called after every write and the orchestrator's reaction. */
  look?: () => void;
}

/**
 * Runs the agent until `done`: each round moves every task one step (desired RUNNING → RUNNING or
 * FAILED as `behave` says; desired SHUTDOWN → SHUTDOWN, `stopMs` after it was asked), one write at
 * a time, letting the orchestrator react after each; then one second passes. Returns the fewest
 * running tasks seen.
 */
async function drive(h: Harness, o: ServiceOrchestrator, done: () => boolean, { behave = byImage, stopMs = 0, look: observe }: AgentOptions = {}): Promise<number> {
  const clock = h.clock;
  let fewest = Infinity;
  const look = () => {
    fewest = Math.min(fewest, runningTasks(h.store).length);
    observe?.();
  };
  const askedToStop = new Map<string, number>();
  for (let round = 0; round < 200 && !done(); round++) {
    for (const t of tasksOf(h.store, "web")) {
      const state = t.status?.state ?? S.TASK_STATE_NEW;
      const node = `n${((t.slot - 1) % 3) + 1}`;
      const stopping = t.desiredState >= S.TASK_STATE_SHUTDOWN && state <= S.TASK_STATE_RUNNING && t.nodeId !== "";
      if (stopping && !askedToStop.has(t.id)) askedToStop.set(t.id, clock.now());
      if (t.desiredState === S.TASK_STATE_RUNNING && state < S.TASK_STATE_RUNNING && behave(t) !== "stuck") {
        await report(h.store, clock, t.id, behave(t) === "run" ? S.TASK_STATE_RUNNING : S.TASK_STATE_FAILED, node);
      } else if (stopping && clock.now() - askedToStop.get(t.id)! >= stopMs) {
        await report(h.store, clock, t.id, S.TASK_STATE_SHUTDOWN);
      } else continue;
      await quiesce(o);
      look();
    }
    clock.advance(1_000);
    await quiesce(o);
    look();
  }
  if (!done()) throw new Error(`not done after 200 rounds: update state ${UpdateState[stateOf(h.store) ?? 0]}`);
  return fewest;
}

/** A service "web" of 6 replicas of image v1, all running. */
async function deployed(h: Harness, o: ServiceOrchestrator, update: Partial<UpdateConfig> = {}): Promise<void> {
  await h.control.createService({ spec: spec("v1", update) });
  await drive(h, o, () => runningTasks(h.store).length === 6);
}

describe("rolling update on a store", () => {
  it("6 replicas, parallelism 2, stop-first: never fewer than 4 running, and completes", async () => {
    const h = await setup();
    const o = h.start();
    await deployed(h, o);
    await update(h, spec("v2", { parallelism: 2 }));
    const fewest = await drive(h, o, () => stateOf(h.store) === UpdateState.UPDATE_STATE_COMPLETED);
    expect(fewest).toBe(4);
    expect(runningTasks(h.store).map(imageOf)).toEqual(Array(6).fill("v2"));
    expect(serviceOf(h.store).updateStatus).toMatchObject({ message: "update completed", completedAtUnixMs: h.clock.now() });
    expect(tasksOf(h.store, "web").filter((t) => imageOf(t) === "v2")).toHaveLength(6);
    expect(h.errors).toEqual([]);
  });

  it("6 replicas, parallelism 2, start-first: never fewer than 6 running", async () => {
    const h = await setup();
    const o = h.start();
    await deployed(h, o);
    await update(h, spec("v2", { parallelism: 2, order: UpdateOrder.UPDATE_ORDER_START_FIRST }));
    const fewest = await drive(h, o, () => stateOf(h.store) === UpdateState.UPDATE_STATE_COMPLETED);
    expect(fewest).toBe(6);
    expect(runningTasks(h.store).map(imageOf)).toEqual(Array(6).fill("v2"));
  });

  it("a failing new spec with failure action pause: PAUSED with the reason, the old tasks still running", async () => {
    const h = await setup();
    const o = h.start();
    await deployed(h, o);
    await update(h, spec("bad", { parallelism: 1, failureAction: Action.UPDATE_FAILURE_ACTION_PAUSE }));
    await drive(h, o, () => stateOf(h.store) === UpdateState.UPDATE_STATE_PAUSED);
    const failed = tasksOf(h.store, "web").find((t) => imageOf(t) === "bad" && t.status?.state === S.TASK_STATE_FAILED)!;
    expect(serviceOf(h.store).updateStatus?.message).toBe(`update paused due to failure or early termination of task ${failed.id}: failed: reported`);

    // Time passes: nothing more is replaced; the five slots not tried still run v1.
    for (let i = 0; i < 30; i++) h.clock.advance(1_000);
    await quiesce(o);
    expect(runningTasks(h.store).map(imageOf)).toEqual(Array(5).fill("v1"));
    expect(stateOf(h.store)).toBe(UpdateState.UPDATE_STATE_PAUSED);
  });

  it("a failing new spec with failure action rollback: the spec is restored, ROLLBACK_COMPLETED", async () => {
    const h = await setup();
    const o = h.start();
    await deployed(h, o);
    const before = serviceOf(h.store);
    await update(h, spec("bad", { parallelism: 2, failureAction: Action.UPDATE_FAILURE_ACTION_ROLLBACK }));
    await drive(h, o, () => stateOf(h.store) === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED);
    const after = serviceOf(h.store);
    expect(after.spec).toEqual(before.spec);
    expect(after.specVersion).toEqual(before.specVersion);
    expect(after.updateStatus?.message).toBe("rollback completed");
    expect(runningTasks(h.store).map(imageOf)).toEqual(Array(6).fill("v1"));
  });

  it("a manual rollback after a completed update restores the previous spec", async () => {
    const h = await setup();
    const o = h.start();
    await deployed(h, o);
    await update(h, spec("v2", { parallelism: 3 }));
    await drive(h, o, () => stateOf(h.store) === UpdateState.UPDATE_STATE_COMPLETED);
    await h.control.updateService({ serviceId: "web", serviceVersion: serviceOf(h.store).meta?.version, spec: undefined, rollback: true });
    expect(serviceOf(h.store).updateStatus?.message).toBe("manually requested rollback");
    // The rollback config of the spec rolled back from says parallelism 0: all at once.
    const fewest = await drive(h, o, () => stateOf(h.store) === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED);
    expect(fewest).toBe(0);
    expect(runningTasks(h.store).map(imageOf)).toEqual(Array(6).fill("v1"));
  });

  it("a new task that never runs fails the update once its start bound (1 min) is over, not before", async () => {
    const h = await setup();
    const o = h.start();
    await deployed(h, o);
    await update(h, spec("stuck", { parallelism: 1, monitorMs: 5_000 }));
    const since = h.clock.now();
    await drive(h, o, () => stateOf(h.store) === UpdateState.UPDATE_STATE_PAUSED);
    expect(h.clock.now() - since).toBeGreaterThanOrEqual(60_000);
    expect(h.clock.now() - since).toBeLessThanOrEqual(61_000);
    expect(serviceOf(h.store).updateStatus?.message).toMatch(/^update paused due to failure or early termination of task t\d+: not running within 60s \(new: created\)$/);
    expect(runningTasks(h.store)).toHaveLength(5);
  });

  it("stop-first with old tasks slow to stop (8 s, over the 5 s monitor): no slot ever runs two tasks, and the update completes", async () => {
    const h = await setup();
    const o = h.start();
    await deployed(h, o);
    await update(h, spec("v2", { parallelism: 2 }));
    const overlaps: number[] = [];
    const done = () => stateOf(h.store) === UpdateState.UPDATE_STATE_COMPLETED || stateOf(h.store) === UpdateState.UPDATE_STATE_PAUSED;
    await drive(h, o, done, { stopMs: 8_000, look: () => overlaps.push(...doublyRunSlots(h.store)) });
    expect(overlaps).toEqual([]);
    expect(serviceOf(h.store).updateStatus?.message).toBe("update completed");
    expect(runningTasks(h.store).map(imageOf)).toEqual(Array(6).fill("v2"));
    expect(h.errors).toEqual([]);
  });

  it("a change of leader mid-update: the new leader continues where it was", async () => {
    const h = await setup();
    let o = h.start();
    await deployed(h, o);
    await update(h, spec("v2", { parallelism: 2, delayMs: 3_000 }));
    await drive(h, o, () => runningTasks(h.store).filter((t) => imageOf(t) === "v2").length === 2);
    await o.stop();
    o = h.start();
    const fewest = await drive(h, o, () => stateOf(h.store) === UpdateState.UPDATE_STATE_COMPLETED);
    expect(fewest).toBe(4);
    // Every slot was replaced once: the new leader replaced none of the first leader's slots again.
    expect(tasksOf(h.store, "web").filter((t) => imageOf(t) === "v2")).toHaveLength(6);
    expect(runningTasks(h.store).map(imageOf)).toEqual(Array(6).fill("v2"));
  });
});
