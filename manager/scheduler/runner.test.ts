import { afterEach, describe, expect, it, vi } from "vitest";
import { Node, Task } from "../../proto/gen/objects.js";
import { NodeState, TaskState } from "../../proto/gen/types.js";
import { makeNode, makeTask, type NodeFixture, type TaskFixture } from "../../scheduler/test-support.js";
import { waitFor } from "../dispatcher/test-support.js";
import { LocalProposer, MemoryStore, SCHEMAS, protoCodec, stampMeta, type Proposer, type StoreObject } from "../store/index.js";
import { ASSIGNED_MESSAGE } from "./decisions.js";
import { SchedulerRunner, type SchedulerRunnerOptions } from "./runner.js";

const obj = (o: object): StoreObject => o as unknown as StoreObject;

/** Forwards proposals to the store; `before` runs once ahead of the next proposal (to interleave a rival write). */
class InterleavingProposer implements Proposer {
  before: (() => Promise<unknown>) | null = null;
  proposals = 0;
  constructor(private readonly inner: Proposer) {}
  async propose(data: Uint8Array): Promise<unknown> {
    this.proposals++;
    const before = this.before;
    this.before = null;
    await before?.();
    return this.inner.propose(data);
  }
}

function newStore(maxTxBytes?: number): { store: MemoryStore; proposer: InterleavingProposer } {
  const store = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta, now: () => 1_000, maxTxBytes });
  const proposer = new InterleavingProposer(new LocalProposer(store));
  store.setProposer(proposer);
  return { store, proposer };
}

async function seed(store: MemoryStore, nodes: NodeFixture[], tasks: TaskFixture[]): Promise<void> {
  await store.update((tx) => {
    for (const n of nodes) tx.create("node", obj(makeNode(n)));
    for (const t of tasks) tx.create("task", obj(makeTask(t)));
  });
}

const taskOf = (store: MemoryStore, id: string): Task => store.view((r) => r.get("task", id)) as unknown as Task;

async function changeTask(store: MemoryStore, id: string, change: (t: Task) => void): Promise<void> {
  await store.update((tx) => {
    const t = Task.fromPartial(tx.get("task", id) as unknown as Task);
    change(t);
    tx.update("task", obj(t));
  });
}

async function changeNode(store: MemoryStore, id: string, change: (n: Node) => void): Promise<void> {
  await store.update((tx) => {
    const n = Node.fromPartial(tx.get("node", id) as unknown as Node);
    change(n);
    tx.update("node", obj(n));
  });
}

const assigned = (store: MemoryStore, id: string): boolean => taskOf(store, id).status?.state === TaskState.TASK_STATE_ASSIGNED;

describe("SchedulerRunner", () => {
  let runner: SchedulerRunner | null = null;
  const errors: Error[] = [];
  const start = (store: MemoryStore, opts: SchedulerRunnerOptions = {}): SchedulerRunner => {
    runner = new SchedulerRunner(store, { now: () => 42, debounceMs: 1, maxDelayMs: 5, onError: (e) => errors.push(e), ...opts });
    runner.start(new AbortController().signal);
    return runner;
  };
  afterEach(async () => {
    await runner?.stop();
    runner = null;
    vi.useRealTimers();
    expect(errors.splice(0)).toEqual([]);
  });

  it("assigns pending tasks found at start and created later, and leaves the others", async () => {
    const { store } = newStore();
    await seed(
      store,
      [{ id: "a" }, { id: "b" }],
      [
        { id: "t1" },
        { id: "t2" },
        { id: "gated", desired: TaskState.TASK_STATE_READY },
        { id: "new", state: TaskState.TASK_STATE_NEW },
        { id: "unwanted", desired: TaskState.TASK_STATE_SHUTDOWN },
      ],
    );
    await changeTask(store, "t1", (t) => (t.status!.message = "pending task scheduling"));
    start(store);
    await waitFor("t1, t2 and the gated task assigned", () => ["t1", "t2", "gated"].every((id) => assigned(store, id)));
    const t1 = taskOf(store, "t1");
    expect(t1.nodeId).not.toBe("");
    expect(t1.status).toMatchObject({ state: TaskState.TASK_STATE_ASSIGNED, message: ASSIGNED_MESSAGE, timestampUnixMs: 42, err: "" });
    expect(new Set(["t1", "t2"].map((id) => taskOf(store, id).nodeId))).toEqual(new Set(["a", "b"]));
    expect(taskOf(store, "new").status?.state).toBe(TaskState.TASK_STATE_NEW);
    expect(taskOf(store, "unwanted").status?.state).toBe(TaskState.TASK_STATE_PENDING);

    await seed(store, [], [{ id: "t3" }]);
    await waitFor("t3 assigned", () => assigned(store, "t3"));
    expect(taskOf(store, "unwanted").nodeId).toBe("");
  });

  it("writes the reason of an unschedulable task once, however often it is retried", async () => {
    const { store } = newStore();
    await seed(store, [{ id: "a", labels: { zone: "east" } }], [{ id: "stuck", constraints: ["node.labels.zone==west"] }]);
    start(store);
    const reason = "no suitable node (scheduling constraints not satisfied on 1 node)";
    await waitFor("the reason written", () => taskOf(store, "stuck").status?.err === reason);
    const version = taskOf(store, "stuck").meta!.version!.index;
    for (let i = 0; i < 3; i++) {
      await changeNode(store, "a", (n) => (n.spec!.annotations!.labels["round"] = String(i))); // a retry, same verdict
      await seed(store, [], [{ id: `probe${i}`, serviceId: `probe${i}` }]);
      await waitFor(`probe${i} assigned (the retry's pass is over)`, () => assigned(store, `probe${i}`));
    }
    expect(taskOf(store, "stuck").meta!.version!.index).toBe(version);
    expect(taskOf(store, "stuck").status?.state).toBe(TaskState.TASK_STATE_PENDING);
  });

  it("retries an unschedulable task when a node becomes ready", async () => {
    const { store } = newStore();
    await seed(store, [{ id: "a", state: NodeState.NODE_STATE_DOWN }], [{ id: "t" }]);
    start(store);
    await waitFor("the reason written", () => taskOf(store, "t").status?.err === "no suitable node (1 node not available for new tasks)");
    await changeNode(store, "a", (n) => (n.status!.state = NodeState.NODE_STATE_READY));
    await waitFor("t assigned", () => assigned(store, "t"));
    expect(taskOf(store, "t").nodeId).toBe("a");
    expect(taskOf(store, "t").status?.err).toBe("");
  });

  it("retries an unschedulable task when a task frees its node, or is removed", async () => {
    const { store } = newStore();
    const running = TaskState.TASK_STATE_RUNNING;
    await seed(
      store,
      [{ id: "a", memoryGiB: 2 }],
      [
        { id: "big1", serviceId: "old", nodeId: "a", state: running, memoryGiB: 1 },
        { id: "big2", serviceId: "old", nodeId: "a", state: running, memoryGiB: 1 },
        { id: "t1", memoryGiB: 1 },
      ],
    );
    start(store);
    await waitFor("t1 refused", () => taskOf(store, "t1").status?.err === "no suitable node (insufficient memory on 1 node)");
    await changeTask(store, "big1", (t) => (t.desiredState = TaskState.TASK_STATE_SHUTDOWN)); // still holds its memory
    await changeTask(store, "big1", (t) => (t.status!.state = TaskState.TASK_STATE_COMPLETE));
    await waitFor("t1 assigned", () => assigned(store, "t1"));
    await seed(store, [], [{ id: "t2", memoryGiB: 1 }]);
    await waitFor("t2 refused", () => taskOf(store, "t2").status?.err !== "");
    await store.update((tx) => tx.remove("task", "big2"));
    await waitFor("t2 assigned", () => assigned(store, "t2"));
  });

  it("keeps a rival write to a task it is assigning, and assigns every task of the refused transaction", async () => {
    const { store, proposer } = newStore();
    await seed(store, [{ id: "a" }], [{ id: "t" }, { id: "u" }]);
    // Between the scheduler's transaction (both tasks) and its commit, someone else changes t: the
    // transaction is refused whole, and u's decision must not be lost with it.
    proposer.before = () => changeTask(store, "t", (t) => (t.desiredState = TaskState.TASK_STATE_READY));
    const before = proposer.proposals;
    start(store);
    await waitFor("t and u assigned", () => assigned(store, "t") && assigned(store, "u"));
    const t = taskOf(store, "t");
    expect(t.desiredState).toBe(TaskState.TASK_STATE_READY);
    expect(t.nodeId).toBe("a");
    expect(proposer.proposals - before).toBe(3); // the refused assignment, the rival write, the retried assignment
  });

  it("writes a batch too large for one transaction in smaller ones", async () => {
    const { store, proposer } = newStore(2_000);
    const many = Array.from({ length: 12 }, (_, i): TaskFixture => ({ id: `t${i}`, constraints: ["node.labels.zone!=" + "x".repeat(100)] }));
    for (const t of many) await seed(store, [], [t]);
    await seed(store, [{ id: "a" }], []);
    const before = proposer.proposals;
    start(store);
    await waitFor("all assigned", () => many.every((t) => assigned(store, t.id)));
    expect(proposer.proposals - before).toBeGreaterThan(1);
  });

  it("ranks a node where the service version failed 5 times in 5 minutes last", async () => {
    const { store } = newStore();
    const failing = Array.from({ length: 5 }, (_, i): TaskFixture => ({ id: `f${i}`, nodeId: "a", state: TaskState.TASK_STATE_RUNNING }));
    await seed(store, [{ id: "a" }, { id: "b" }], failing);
    let now = 1_000_000;
    start(store, { now: () => now });
    for (const f of failing) await changeTask(store, f.id, (t) => (t.status!.state = TaskState.TASK_STATE_FAILED));
    await seed(store, [], [{ id: "t1" }]);
    await waitFor("t1 assigned", () => assigned(store, "t1"));
    expect(taskOf(store, "t1").nodeId).toBe("b");
    now += 5 * 60_000; // the failures age out: a, without a task of the service, ranks first again
    await seed(store, [], [{ id: "t2", serviceId: "svc" }]);
    await waitFor("t2 assigned", () => assigned(store, "t2"));
    expect(taskOf(store, "t2").nodeId).toBe("a");
  });

  /** Runs what is due now (promises, immediates) until `cond` holds, without moving the fake clock. */
  async function settleNow(what: string, cond: () => boolean): Promise<void> {
    for (let i = 0; i < 50 && !cond(); i++) await vi.advanceTimersByTimeAsync(0);
    if (!cond()) throw new Error(`not settled without the clock moving: ${what}`);
  }

  it("after a quiet spell, places a task on the next turn without waiting for the debounce", async () => {
    vi.useFakeTimers();
    const { store } = newStore();
    await seed(store, [{ id: "a" }], [{ id: "t0" }]);
    start(store, { debounceMs: 50, maxDelayMs: 1_000 });
    const started = performance.now();
    await settleNow("t0 assigned at start", () => assigned(store, "t0"));
    await vi.advanceTimersByTimeAsync(500);
    const t1At = performance.now();
    await seed(store, [], [{ id: "t1" }, { id: "t2" }]);
    await settleNow("t1 and t2 assigned", () => assigned(store, "t1") && assigned(store, "t2"));
    expect(performance.now() - t1At).toBe(0);
    expect(t1At - started).toBe(500);
  });

  it("right after a pass, waits for a quiet gap in events, at most maxDelayMs", async () => {
    vi.useFakeTimers();
    const { store } = newStore();
    await seed(store, [{ id: "a" }], [{ id: "t0" }]);
    start(store, { debounceMs: 50, maxDelayMs: 1_000 });
    await settleNow("t0 assigned", () => assigned(store, "t0"));

    // Within debounceMs of that pass: the gap is waited for.
    await seed(store, [], [{ id: "t1" }]);
    await vi.advanceTimersByTimeAsync(49);
    expect(assigned(store, "t1")).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(assigned(store, "t1")).toBe(true);

    // An event every 40 ms keeps the gap from opening: the pass comes at the 1 s limit.
    await seed(store, [], [{ id: "t2" }]);
    for (let i = 0; i < 24; i++) {
      await vi.advanceTimersByTimeAsync(40);
      expect(assigned(store, "t2"), `at ${(i + 1) * 40} ms`).toBe(false);
      await changeNode(store, "a", (n) => (n.spec!.annotations!.labels["tick"] = String(i)));
    }
    await vi.advanceTimersByTimeAsync(40);
    expect(assigned(store, "t2")).toBe(true);
  });

  it("is not held back by tasks stopping while nothing is parked (an update's old tasks)", async () => {
    vi.useFakeTimers();
    const { store } = newStore();
    const old = Array.from({ length: 20 }, (_, i): TaskFixture => ({ id: `old${i}`, serviceId: "old", nodeId: "a", state: TaskState.TASK_STATE_RUNNING }));
    await seed(store, [{ id: "a" }], [...old, { id: "t0" }]);
    start(store, { debounceMs: 50, maxDelayMs: 1_000 });
    await settleNow("t0 assigned", () => assigned(store, "t0"));
    await seed(store, [], [{ id: "t1" }]); // right after a pass: debounced
    const queuedAt = performance.now();
    // An old task reports SHUTDOWN every 20 ms: room freed, but no parked task wants it.
    for (let i = 0; !assigned(store, "t1") && i < old.length; i++) {
      await vi.advanceTimersByTimeAsync(20);
      if (!assigned(store, "t1")) await changeTask(store, `old${i}`, (t) => (t.status!.state = TaskState.TASK_STATE_SHUTDOWN));
    }
    expect(assigned(store, "t1")).toBe(true);
    expect(performance.now() - queuedAt).toBeLessThanOrEqual(60);
  });

  it("places a scale-up of 10,000 tasks, arriving in 100 transactions, in few passes", async () => {
    vi.useFakeTimers();
    const { store } = newStore();
    await seed(store, Array.from({ length: 100 }, (_, i) => ({ id: `n${i}` })), []);
    let passes = 0;
    start(store, { debounceMs: 50, maxDelayMs: 1_000, now: () => ++passes }); // read once per pass: stamps the pass
    const ids: string[] = [];
    for (let tx = 0; tx < 100; tx++) {
      const batch = Array.from({ length: 100 }, (_, i): TaskFixture => ({ id: `t${tx}-${i}` }));
      ids.push(...batch.map((t) => t.id));
      await seed(store, [], batch);
      await vi.advanceTimersByTimeAsync(2); // the allocator's transactions, 2 ms apart
    }
    for (let i = 0; i < 20 && !ids.every((id) => assigned(store, id)); i++) await vi.advanceTimersByTimeAsync(50);
    expect(ids.every((id) => assigned(store, id))).toBe(true);
    const stamps = new Set(ids.map((id) => taskOf(store, id).status!.timestampUnixMs));
    expect(stamps.size).toBeLessThanOrEqual(3); // the first transaction at once, then the rest after the gap
  });

  it("is not held back by status reports of placed tasks", async () => {
    vi.useFakeTimers();
    const { store } = newStore();
    await seed(store, [{ id: "a" }], [{ id: "busy", nodeId: "a", state: TaskState.TASK_STATE_RUNNING }]);
    start(store, { debounceMs: 50, maxDelayMs: 1_000 });
    await seed(store, [], [{ id: "t1" }]);
    // A status report every 20 ms: placed tasks' writes are no reason to wait.
    for (let i = 0; i < 3; i++) {
      await vi.advanceTimersByTimeAsync(20);
      await changeTask(store, "busy", (t) => (t.status!.message = `report ${i}`));
    }
    expect(assigned(store, "t1")).toBe(true);
  });

  it("stops promptly: no timer left, nothing written after stop", async () => {
    vi.useFakeTimers();
    const { store, proposer } = newStore();
    await seed(store, [{ id: "a" }], [{ id: "t" }]);
    const r = start(store, { debounceMs: 50 });
    expect(vi.getTimerCount()).toBe(1);
    await r.stop();
    expect(vi.getTimerCount()).toBe(0);
    const before = proposer.proposals;
    await seed(store, [], [{ id: "t2" }]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(proposer.proposals - before).toBe(1);
    expect(assigned(store, "t")).toBe(false);
  });

  it("stops when its start signal aborts", async () => {
    vi.useFakeTimers();
    const { store } = newStore();
    await seed(store, [{ id: "a" }], [{ id: "t" }]);
    runner = new SchedulerRunner(store, { debounceMs: 50 });
    const abort = new AbortController();
    runner.start(abort.signal);
    abort.abort();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(assigned(store, "t")).toBe(false);
    expect(runner.name).toBe("scheduler");
  });
});
