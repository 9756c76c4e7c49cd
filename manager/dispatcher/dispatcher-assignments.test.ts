// The Dispatcher's Assignments streams and status intake without gRPC, over a real store. Changes of
// one transaction reach the watch together and are handled before any timer fires, so they always
// land in one message (up to the batch limit); tests rely on that, never on the batching window.
import { afterEach, describe, expect, it } from "vitest";
import { AssignmentChangeAction, AssignmentsType, type AssignmentsMessage } from "../../proto/gen/dispatcher.js";
import { TaskState, TaskStatus } from "../../proto/gen/types.js";
import { StoreErrorCode, type MemoryStore, type StoreObject } from "../store/index.js";
import { Dispatcher } from "./dispatcher.js";
import { DispatcherErrorCode } from "./errors.js";
import { addCluster, addNodes, addSecretsAndConfigs, addTasks, changeTask, makeTask, newStore, removeTask, seeded, taskOf, waitFor } from "./test-support.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

async function setup(opts: { batchLimit?: number } = {}) {
  const { store, proposals } = newStore();
  await addCluster(store, 60_000);
  await addNodes(store, ["n1", "n2"]);
  const d = new Dispatcher({
    store,
    managers: () => [],
    random: seeded(3),
    nodeId: "m1",
    wallClock: () => 1_700_000_000_000,
    assignmentBatchMs: 5,
    ...(opts.batchLimit ? { assignmentBatchLimit: opts.batchLimit } : {}),
  });
  const abort = new AbortController();
  cleanups.push(() => abort.abort());
  d.start(abort.signal);
  return { store, proposals, d };
}

/** Opens a session of `nodeId` and resolves with its id once the first message came. */
async function session(d: Dispatcher, nodeId: string): Promise<{ id: string; abort: AbortController; done: Promise<void> }> {
  const abort = new AbortController();
  cleanups.push(() => abort.abort());
  let id = "";
  const done = d.session(nodeId, "10.0.0.9:1", { description: undefined, sessionId: "" }, (m) => (id = m.sessionId), abort.signal);
  done.catch(() => {});
  await waitFor(`a session of ${nodeId}`, () => id !== "");
  return { id, abort, done };
}

interface Stream {
  messages: AssignmentsMessage[];
  done: Promise<void>;
  abort: AbortController;
}

function stream(d: Dispatcher, nodeId: string, sessionId: string): Stream {
  const messages: AssignmentsMessage[] = [];
  const abort = new AbortController();
  cleanups.push(() => abort.abort());
  const done = d.assignments(nodeId, sessionId, (m) => messages.push(m), abort.signal);
  done.catch(() => {});
  return { messages, done, abort };
}

/** A message's changes as "update task/t1", "remove secret/s1". */
function changes(m: AssignmentsMessage): string[] {
  return m.changes.map((c) => {
    const item = c.assignment!.item!;
    const id = item.$case === "task" ? item.task.id : item.$case === "secret" ? item.secret.id : item.config.id;
    return `${c.action === AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_UPDATE ? "update" : "remove"} ${item.$case}/${id}`;
  });
}

/** Checks that every message applies to the one before. */
function expectChained(messages: AssignmentsMessage[]): void {
  expect(messages[0]!.appliesTo).toBe("");
  for (let i = 1; i < messages.length; i++) expect(messages[i]!.appliesTo).toBe(messages[i - 1]!.resultsIn);
  expect(new Set(messages.map((m) => m.resultsIn)).size).toBe(messages.length);
}

const report = (taskId: string, state: TaskState) => ({ taskId, status: TaskStatus.fromPartial({ state, timestampUnixMs: 5 }) });

describe("Assignments", () => {
  it("sends the node's complete set, then one incremental message per transaction", async () => {
    const { store, d } = await setup();
    await addTasks(store, [
      { id: "t1", nodeId: "n1" },
      { id: "t2", nodeId: "n1", state: TaskState.TASK_STATE_RUNNING },
      { id: "t3", nodeId: "n1", state: TaskState.TASK_STATE_PENDING }, // not scheduled yet: not sent
      { id: "u1", nodeId: "n2" },
    ]);
    const s = await session(d, "n1");
    const a = stream(d, "n1", s.id);
    await waitFor("the complete set", () => a.messages.length === 1);
    expect(a.messages[0]!.type).toBe(AssignmentsType.ASSIGNMENTS_TYPE_COMPLETE);
    expect(changes(a.messages[0]!)).toEqual(["update task/t1", "update task/t2"]);

    // One transaction: a task is scheduled here, one elsewhere, and t1 is told to stop.
    await store.update((tx) => {
      tx.create("task", makeTask({ id: "t4", nodeId: "n1" }) as unknown as StoreObject);
      tx.create("task", makeTask({ id: "u2", nodeId: "n2" }) as unknown as StoreObject);
      const t1 = { ...taskOf(store, "t1")!, desiredState: TaskState.TASK_STATE_SHUTDOWN };
      tx.update("task", t1 as unknown as StoreObject);
    });
    await waitFor("an incremental message", () => a.messages.length === 2);
    expect(a.messages[1]!.type).toBe(AssignmentsType.ASSIGNMENTS_TYPE_INCREMENTAL);
    expect(changes(a.messages[1]!)).toEqual(["update task/t4", "update task/t1"]); // in the transaction's order
    const t1 = a.messages[1]!.changes[1]!.assignment!.item;
    expect(t1?.$case === "task" && t1.task.desiredState).toBe(TaskState.TASK_STATE_SHUTDOWN);

    // The scheduler assigns t3; then the reaper deletes t2.
    await changeTask(store, "t3", (t) => (t.status = TaskStatus.fromPartial({ state: TaskState.TASK_STATE_ASSIGNED })));
    await waitFor("t3", () => a.messages.length === 3);
    expect(changes(a.messages[2]!)).toEqual(["update task/t3"]);
    await changeTask(store, "u1", (t) => (t.desiredState = TaskState.TASK_STATE_SHUTDOWN)); // not n1's
    await removeTask(store, "t2");
    await waitFor("t2's removal", () => a.messages.length === 4);
    expect(changes(a.messages[3]!)).toEqual(["remove task/t2"]);
    expectChained(a.messages);
    expect(a.messages.flatMap(changes).some((c) => c.includes("task/u"))).toBe(false);
  });

  it("sends secrets (with their values) and configs with the tasks that use them, and removes them when none does", async () => {
    const { store, d } = await setup();
    await addSecretsAndConfigs(store, ["s1", "s2"], ["c1"]);
    await addTasks(store, [{ id: "t1", nodeId: "n1", secrets: ["s1"], configs: ["c1"] }]);
    const s = await session(d, "n1");
    const a = stream(d, "n1", s.id);
    await waitFor("the complete set", () => a.messages.length === 1);
    expect(changes(a.messages[0]!)).toEqual(["update secret/s1", "update config/c1", "update task/t1"]);
    const secret = a.messages[0]!.changes[0]!.assignment!.item;
    expect(secret?.$case === "secret" && Buffer.from(secret.secret.spec!.data).toString()).toBe("value of s1");

    await addTasks(store, [{ id: "t2", nodeId: "n1", secrets: ["s1", "s2"] }]);
    await waitFor("t2", () => a.messages.length === 2);
    expect(changes(a.messages[1]!)).toEqual(["update secret/s2", "update task/t2"]); // s1 is there already

    // The agent reports t1 complete: c1 has no user left; s1 still has t2.
    await d.updateTaskStatus("n1", s.id, [report("t1", TaskState.TASK_STATE_COMPLETE)]);
    await waitFor("c1's removal", () => a.messages.length === 3);
    expect(changes(a.messages[2]!)).toEqual(["remove config/c1"]);
    await removeTask(store, "t2");
    await waitFor("t2's removal", () => a.messages.length === 4);
    expect(changes(a.messages[3]!)).toEqual(["remove task/t2", "remove secret/s1", "remove secret/s2"]);
    expectChained(a.messages);
  });

  it("splits a large change at the batch limit", async () => {
    const { store, d } = await setup({ batchLimit: 10 });
    const s = await session(d, "n1");
    const a = stream(d, "n1", s.id);
    await waitFor("the complete set", () => a.messages.length === 1);
    await addTasks(
      store,
      Array.from({ length: 25 }, (_, i) => ({ id: `t${String(i).padStart(2, "0")}`, nodeId: "n1" })),
    );
    await waitFor("25 tasks", () => a.messages.slice(1).flatMap(changes).length === 25);
    expect(a.messages.slice(1).map((m) => m.changes.length)).toEqual([10, 10, 5]);
    expectChained(a.messages);
  });

  it("needs the node's current session, ends with it, and gives way to a newer stream", async () => {
    const { d } = await setup();
    const s = await session(d, "n1");
    await expect(d.assignments("n1", "wrong", () => {}, new AbortController().signal)).rejects.toMatchObject({
      code: StoreErrorCode.NotFound,
      message: "session wrong of node n1 is not valid (reconnect)",
    });
    await expect(d.assignments("n2", s.id, () => {}, new AbortController().signal)).rejects.toThrow(/of node n2 is not valid/);
    const one = stream(d, "n1", s.id);
    const two = stream(d, "n1", s.id);
    await expect(one.done).rejects.toMatchObject({ code: StoreErrorCode.Unavailable, message: "assignments stream of node n1 was replaced by a newer one" });
    await waitFor("the second stream's complete set", () => two.messages.length === 1);
    // A newer session of the node ends the old session and its stream.
    await session(d, "n1");
    await expect(two.done).rejects.toMatchObject({ message: `session ${s.id} of node n1 was replaced by a newer session` });
  });

  it("resolves when the agent goes away, and ends on stop()", async () => {
    const { d } = await setup();
    const s = await session(d, "n1");
    const a = stream(d, "n1", s.id);
    a.abort.abort();
    await expect(a.done).resolves.toBeUndefined();
    const b = stream(d, "n1", s.id);
    d.stop();
    await expect(b.done).rejects.toMatchObject({ code: StoreErrorCode.Unavailable, message: "dispatcher stopped: leadership moved" });
  });

  it("sends a complete set again when the store watch had to be reopened", async () => {
    const { store, d } = await setup();
    await addTasks(store, [{ id: "t1", nodeId: "n1" }]);
    const s = await session(d, "n1");
    const a = stream(d, "n1", s.id);
    await waitFor("the complete set", () => a.messages.length === 1);
    // A snapshot restore voids every watch: the events in between are unknown.
    store.restore(store.snapshot(), store.version);
    await addTasks(store, [{ id: "t2", nodeId: "n1" }]);
    await waitFor("t2", () => a.messages.flatMap(changes).includes("update task/t2"));
    expect(a.messages[1]!.type).toBe(AssignmentsType.ASSIGNMENTS_TYPE_COMPLETE);
    expect(changes(a.messages[1]!)).toContain("update task/t1");
    expectChained(a.messages);
  });
});

describe("UpdateTaskStatus", () => {
  async function withTasks(): Promise<{ store: MemoryStore; d: Dispatcher; sessionId: string; proposals: { count: number } }> {
    const h = await setup();
    await addTasks(h.store, [
      { id: "t1", nodeId: "n1" },
      { id: "t2", nodeId: "n1" },
      { id: "u1", nodeId: "n2" },
    ]);
    const s = await session(h.d, "n1");
    return { ...h, sessionId: s.id };
  }

  it("writes the statuses of the caller's tasks, stamped by this manager, and resolves once they are committed", async () => {
    const { store, d, sessionId } = await withTasks();
    await d.updateTaskStatus("n1", sessionId, [report("t1", TaskState.TASK_STATE_RUNNING), report("t2", TaskState.TASK_STATE_PREPARING)]);
    expect(taskOf(store, "t1")!.status).toMatchObject({ state: TaskState.TASK_STATE_RUNNING, appliedBy: "m1", appliedAtUnixMs: 1_700_000_000_000 });
    expect(taskOf(store, "t2")!.status!.state).toBe(TaskState.TASK_STATE_PREPARING);
  });

  it("refuses the whole request when a task is another node's, and writes nothing", async () => {
    const { store, d, sessionId, proposals } = await withTasks();
    const before = proposals.count;
    await expect(
      d.updateTaskStatus("n1", sessionId, [report("t1", TaskState.TASK_STATE_RUNNING), report("u1", TaskState.TASK_STATE_RUNNING)]),
    ).rejects.toMatchObject({
      code: DispatcherErrorCode.PermissionDenied,
      message: "node n1 cannot update the status of tasks not assigned to it: u1; nothing was written",
    });
    expect(proposals.count).toBe(before);
    expect(taskOf(store, "t1")!.status!.state).toBe(TaskState.TASK_STATE_ASSIGNED);
  });

  it("drops a state lower than the stored one, and skips tasks deleted meanwhile", async () => {
    const { store, d, sessionId } = await withTasks();
    await d.updateTaskStatus("n1", sessionId, [report("t1", TaskState.TASK_STATE_RUNNING)]);
    await removeTask(store, "t2");
    await d.updateTaskStatus("n1", sessionId, [report("t1", TaskState.TASK_STATE_STARTING), report("t2", TaskState.TASK_STATE_RUNNING)]);
    expect(taskOf(store, "t1")!.status!.state).toBe(TaskState.TASK_STATE_RUNNING);
  });

  it("needs the node's current session", async () => {
    const { d } = await withTasks();
    await expect(d.updateTaskStatus("n1", "stale", [report("t1", TaskState.TASK_STATE_RUNNING)])).rejects.toMatchObject({
      code: StoreErrorCode.NotFound,
    });
  });
});
