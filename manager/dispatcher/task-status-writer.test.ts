// Batched task status writes over a real store with counted proposals.
import { describe, expect, it } from "vitest";
import { Task } from "../../proto/gen/objects.js";
import { TaskState, TaskStatus } from "../../proto/gen/types.js";
import type { Proposer, StoreObject } from "../store/index.js";
import { TaskStatusWriter, applyTaskStatus, type TaskStatusReport } from "./task-status-writer.js";
import { addNodes, addTasks, changeTask, newStore, removeTask, taskOf } from "./test-support.js";

const status = (state: TaskState, message = "", timestampUnixMs = 1): TaskStatus => TaskStatus.fromPartial({ state, message, timestampUnixMs });
const report = (taskId: string, state: TaskState, nodeId = "n1", message = ""): TaskStatusReport => ({ taskId, nodeId, status: status(state, message) });

async function setup(taskIds: string[]) {
  const { store, proposals } = newStore();
  await addNodes(store, ["n1", "n2"]);
  await addTasks(
    store,
    taskIds.map((id) => ({ id, nodeId: "n1" })),
  );
  const w = new TaskStatusWriter({ store, appliedBy: "manager1", wallClock: () => 1_700_000_000_000 });
  return { store, proposals, w };
}

describe("applyTaskStatus", () => {
  const cur = Task.fromPartial({ id: "t1", meta: { version: { index: 4 } }, status: status(TaskState.TASK_STATE_RUNNING, "started") });

  it("never moves a state backwards and skips a status already stored", () => {
    expect(applyTaskStatus(cur, status(TaskState.TASK_STATE_PREPARING), "m", 5)).toBeNull();
    expect(applyTaskStatus({ ...cur, status: { ...cur.status!, appliedBy: "m0", appliedAtUnixMs: 3 } }, status(TaskState.TASK_STATE_RUNNING, "started"), "m", 5)).toBeNull();
  });

  it("takes the same state with news, and later states, stamping who applied it and when", () => {
    const next = applyTaskStatus(cur, status(TaskState.TASK_STATE_RUNNING, "healthy"), "m", 5)!;
    expect(next.status).toMatchObject({ state: TaskState.TASK_STATE_RUNNING, message: "healthy", appliedBy: "m", appliedAtUnixMs: 5 });
    expect(next.meta).not.toBe(cur.meta); // the store stamps meta: never on the shared object
    expect(applyTaskStatus(cur, status(TaskState.TASK_STATE_FAILED), "m", 5)!.status!.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(cur.status!.message).toBe("started");
  });
});

describe("TaskStatusWriter", () => {
  it("writes statuses queued together in one transaction, stamped applied_by and applied_at", async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `t${i}`);
    const { store, proposals, w } = await setup(ids);
    const before = proposals.count;
    await Promise.all([
      w.set(ids.slice(0, 50).map((id) => report(id, TaskState.TASK_STATE_RUNNING))),
      w.set(ids.slice(50).map((id) => report(id, TaskState.TASK_STATE_PREPARING))),
    ]);
    expect(proposals.count - before).toBe(1);
    expect(taskOf(store, "t0")!.status).toMatchObject({ state: TaskState.TASK_STATE_RUNNING, appliedBy: "manager1", appliedAtUnixMs: 1_700_000_000_000 });
    expect(taskOf(store, "t99")!.status!.state).toBe(TaskState.TASK_STATE_PREPARING);
  });

  it("drops a lower state (queued or stored) and writes nothing for a status already stored", async () => {
    const { store, proposals, w } = await setup(["t1", "t2"]);
    // Queued together: the higher state wins whatever the order.
    await Promise.all([w.set([report("t1", TaskState.TASK_STATE_RUNNING)]), w.set([report("t1", TaskState.TASK_STATE_STARTING)])]);
    expect(taskOf(store, "t1")!.status!.state).toBe(TaskState.TASK_STATE_RUNNING);
    const before = proposals.count;
    await w.set([report("t1", TaskState.TASK_STATE_PREPARING)]);
    await w.set([report("t1", TaskState.TASK_STATE_RUNNING)]);
    expect(proposals.count).toBe(before);
    expect(taskOf(store, "t1")!.status!.state).toBe(TaskState.TASK_STATE_RUNNING);
  });

  it("skips tasks deleted meanwhile and tasks of another node", async () => {
    const { store, w } = await setup(["t1", "t2"]);
    await removeTask(store, "t1");
    await w.set([report("t1", TaskState.TASK_STATE_RUNNING), report("t2", TaskState.TASK_STATE_RUNNING, "n2")]);
    expect(taskOf(store, "t1")).toBeUndefined();
    expect(taskOf(store, "t2")!.status!.state).toBe(TaskState.TASK_STATE_ASSIGNED);
  });

  it("splits a large batch into transactions within the budget", async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `t${i}`);
    const { store, proposals } = await setup(ids);
    const size = Task.encode(taskOf(store, "t0")!).finish().length;
    const w = new TaskStatusWriter({ store, maxTxBytes: size * 25 });
    const before = proposals.count;
    await w.set(ids.map((id) => report(id, TaskState.TASK_STATE_RUNNING)));
    expect(proposals.count - before).toBe(3);
    expect(ids.every((id) => taskOf(store, id)!.status!.state === TaskState.TASK_STATE_RUNNING)).toBe(true);
  });

  it("rebuilds a transaction that lost a race with another writer of the same task", async () => {
    const { store, proposals } = await setup(["t1"]);
    // The orchestrator's change commits between the writer's build and its apply.
    const inner: Proposer = proposals;
    let raced = false;
    store.setProposer({
      async propose(data) {
        if (!raced) {
          raced = true;
          await changeTask(store, "t1", (t) => (t.desiredState = TaskState.TASK_STATE_SHUTDOWN));
        }
        return inner.propose(data);
      },
    });
    const w = new TaskStatusWriter({ store });
    const before = proposals.count;
    await w.set([report("t1", TaskState.TASK_STATE_RUNNING)]);
    const t = taskOf(store, "t1")!;
    expect(t.status!.state).toBe(TaskState.TASK_STATE_RUNNING);
    expect(t.desiredState).toBe(TaskState.TASK_STATE_SHUTDOWN);
    expect(proposals.count - before).toBe(3); // the race, the refused one, the rebuilt one
  });

  it("close() rejects what is queued and what comes later", async () => {
    const { w } = await setup(["t1"]);
    const queued = w.set([report("t1", TaskState.TASK_STATE_RUNNING)]);
    w.close(new Error("leadership lost"));
    await expect(queued).rejects.toThrow("leadership lost");
    await expect(w.set([report("t1", TaskState.TASK_STATE_RUNNING)])).rejects.toThrow("leadership lost");
    expect(w.queued).toBe(0);
  });

  it("the store's objects are never changed in place", async () => {
    const { store, w } = await setup(["t1"]);
    const before = taskOf(store, "t1")!;
    const meta = JSON.stringify(before.meta);
    await w.set([report("t1", TaskState.TASK_STATE_RUNNING)]);
    expect(JSON.stringify(before.meta)).toBe(meta);
    expect(before.status!.state).toBe(TaskState.TASK_STATE_ASSIGNED);
    expect((taskOf(store, "t1") as unknown as StoreObject).meta!.version!.index).toBeGreaterThan(before.meta!.version!.index);
  });
});
