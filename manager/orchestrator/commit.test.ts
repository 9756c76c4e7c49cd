import { describe, expect, it } from "vitest";
import type { Service, Task } from "../../proto/gen/objects.js";
import { TaskState as S, UpdateState, type UpdateStatus } from "../../proto/gen/types.js";
import { LocalProposer, MemoryStore, SCHEMAS, StoreError, StoreErrorCode, protoCodec, stampMeta, type Proposer } from "../store/index.js";
import { commitSteps } from "./commit.js";
import { step } from "./decisions/plan.js";
import { FakeClock, change, makeService, makeTask, obj, put, replicated, taskOf } from "./test-support.js";

/** Counts proposals, and before the next one lets another writer commit first (losing the race for it). */
class RacingProposer implements Proposer {
  count = 0;
  races: (() => Promise<void>)[] = [];
  failWith: Error | null = null;
  private racing = false;
  constructor(private readonly inner: Proposer) {}
  async propose(data: Uint8Array): Promise<unknown> {
    this.count++;
    if (this.failWith) throw this.failWith;
    const race = this.racing ? undefined : this.races.shift();
    if (race) {
      this.racing = true;
      await race().finally(() => (this.racing = false));
    }
    return this.inner.propose(data);
  }
}

async function setup() {
  const clock = new FakeClock();
  const store = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta, now: clock.now });
  const proposer = new RacingProposer(new LocalProposer(store));
  store.setProposer(proposer);
  await put(store, "service", makeService({ id: "s", mode: replicated(1), specVersion: 3 }));
  await store.update((tx) => tx.create("task", obj(makeTask({ id: "a", slot: 1 }))));
  proposer.count = 0;
  const seen = () => taskOf(store, "a")!;
  return { store, proposer, seen };
}

const shutdown = (t: Task) => step("s", { change: [{ task: t, desiredState: S.TASK_STATE_SHUTDOWN }] });

describe("commitSteps", () => {
  it("rebuilds a transaction that lost a race with a status write, keeping both", async () => {
    const { store, proposer, seen } = await setup();
    const before = seen();
    proposer.races.push(() => change<Task>(store, "task", "a", (t) => (t.status!.message = "from the agent")));
    const r = await commitSteps(store, [shutdown(before)]);
    expect(r.committed).toHaveLength(1);
    expect(taskOf(store, "a")).toMatchObject({ desiredState: S.TASK_STATE_SHUTDOWN, status: { message: "from the agent" } });
    expect(proposer.count).toBe(3); // the race, the lost attempt, the retry
  });

  it("skips a step whose task's desired state changed meanwhile", async () => {
    const { store, seen } = await setup();
    const before = seen();
    await change<Task>(store, "task", "a", (t) => (t.desiredState = S.TASK_STATE_REMOVE));
    const r = await commitSteps(store, [shutdown(before)]);
    expect(r.skipped).toHaveLength(1);
    expect(taskOf(store, "a")?.desiredState).toBe(S.TASK_STATE_REMOVE);
  });

  it("skips creations for a service whose spec changed or that is gone", async () => {
    const { store } = await setup();
    const create = (id: string, specVersion: number) => step("s", { specVersion, create: [makeTask({ id, slot: 2 })] });
    expect((await commitSteps(store, [create("x", 2)])).skipped).toHaveLength(1);
    expect((await commitSteps(store, [create("y", 3)])).committed).toHaveLength(1);
    await store.update((tx) => tx.remove("service", "s"));
    expect((await commitSteps(store, [create("z", 3)])).skipped).toHaveLength(1);
    expect([taskOf(store, "x"), taskOf(store, "y"), taskOf(store, "z")].map((t) => t?.id)).toEqual([undefined, "y", undefined]);
  });

  it("applies a step all or nothing", async () => {
    const { store, seen } = await setup();
    const stale = { ...seen(), desiredState: S.TASK_STATE_READY };
    const r = await commitSteps(store, [step("s", { specVersion: 3, create: [makeTask({ id: "new", slot: 1 })], change: [{ task: stale, desiredState: S.TASK_STATE_SHUTDOWN }] })]);
    expect(r.skipped).toHaveLength(1);
    expect(taskOf(store, "new")).toBeUndefined();
  });

  it("deletes a task only while it is as seen", async () => {
    const { store, seen } = await setup();
    const before = seen();
    expect((await commitSteps(store, [step("s", { remove: [{ ...before, desiredState: S.TASK_STATE_REMOVE }] })])).skipped).toHaveLength(1);
    expect((await commitSteps(store, [step("s", { remove: [before] })])).committed).toHaveLength(1);
    expect(taskOf(store, "a")).toBeUndefined();
  });

  it("splits steps into bounded transactions", async () => {
    const { store, proposer } = await setup();
    const steps = Array.from({ length: 450 }, (_, i) => step("s", { specVersion: 3, create: [makeTask({ id: `t${i}`, slot: i + 2 })] }));
    const r = await commitSteps(store, steps, { maxActionsPerTx: 200 });
    expect(r.committed).toHaveLength(450);
    expect(proposer.count).toBe(3);
  });

  it("gives steps back as skipped after losing every attempt, and reports other failures", async () => {
    const { store, proposer, seen } = await setup();
    for (let i = 0; i < 3; i++) proposer.races.push(() => change<Task>(store, "task", "a", (t) => (t.status!.message = `write ${i}`)));
    expect((await commitSteps(store, [shutdown(seen())], { attempts: 3 })).skipped).toHaveLength(1);
    proposer.failWith = new StoreError(StoreErrorCode.Unavailable, "no leader");
    const r = await commitSteps(store, [shutdown(seen())]);
    expect(r.failed.map((f) => f.error.message)).toEqual(["no leader"]);
  });

  describe("service changes", () => {
    const updating: UpdateStatus = { state: UpdateState.UPDATE_STATE_UPDATING, startedAtUnixMs: 5, completedAtUnixMs: 0, message: "update in progress" };
    const paused: UpdateStatus = { ...updating, state: UpdateState.UPDATE_STATE_PAUSED, message: "update paused" };
    const serviceOf = (store: MemoryStore) => store.view((r) => r.get("service", "s")) as unknown as Service;
    const statusStep = (seen: UpdateStatus | undefined, updateStatus: UpdateStatus, rollback = false, specVersion = 3) =>
      step("s", { specVersion, service: { seen, updateStatus, rollback } });

    it("writes the update status while the one seen is stored, alone in its transaction", async () => {
      const { store, proposer, seen } = await setup();
      const r = await commitSteps(store, [statusStep(undefined, updating), shutdown(seen())]);
      expect(r.committed).toHaveLength(2);
      expect(proposer.count).toBe(2);
      expect(serviceOf(store).updateStatus).toEqual(updating);
      expect((await commitSteps(store, [statusStep(undefined, paused)])).skipped).toHaveLength(1);
      expect((await commitSteps(store, [statusStep(updating, paused, false, 2)])).skipped).toHaveLength(1);
      expect((await commitSteps(store, [statusStep(updating, paused)])).committed).toHaveLength(1);
      expect(serviceOf(store).updateStatus).toEqual(paused);
    });

    it("a rollback swaps the spec and the previous spec, with their versions; none to restore: skipped", async () => {
      const { store } = await setup();
      const started = { ...updating, state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED };
      expect((await commitSteps(store, [statusStep(undefined, started, true)])).skipped).toHaveLength(1);
      await change<Service>(store, "service", "s", (s) => {
        s.previousSpec = makeService({ id: "s", mode: replicated(1), image: "old" }).spec;
        s.previousSpecVersion = { index: 1 };
      });
      const before = serviceOf(store);
      expect((await commitSteps(store, [statusStep(undefined, started, true)])).committed).toHaveLength(1);
      expect(serviceOf(store)).toMatchObject({ spec: before.previousSpec, specVersion: { index: 1 }, previousSpec: before.spec, previousSpecVersion: { index: 3 }, updateStatus: started });
    });
  });
});
