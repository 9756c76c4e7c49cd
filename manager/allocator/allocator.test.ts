import { afterEach, describe, expect, it } from "vitest";
import { Service, Task } from "../../proto/gen/objects.js";
import { PublishMode, TaskState } from "../../proto/gen/types.js";
import { newStore } from "../dispatcher/test-support.js";
import type { MemoryStore, StoreObject } from "../store/index.js";
import { Allocator } from "./allocator.js";
import { PENDING_MESSAGE, gateTask } from "./task-gate.js";

const obj = (o: object): StoreObject => o as unknown as StoreObject;
const hostPort = { targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_HOST };

function service(id: string, ports = [hostPort]): Service {
  return Service.fromPartial({ id, spec: { annotations: { name: id }, endpoint: { ports } }, specVersion: { index: 0 } });
}

function task(id: string, serviceId: string, desiredState = TaskState.TASK_STATE_RUNNING): Task {
  return Task.fromPartial({ id, serviceId, slot: 1, desiredState, status: { state: TaskState.TASK_STATE_NEW } });
}

async function until<T>(what: string, fn: () => T | undefined | false): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const getTask = (store: MemoryStore, id: string): Task => store.view((r) => r.get("task", id)) as unknown as Task;
const getService = (store: MemoryStore, id: string): Service => store.view((r) => r.get("service", id)) as unknown as Service;

describe("gateTask", () => {
  const allocated = Service.fromPartial({ ...service("s"), endpoint: { spec: { ports: [hostPort] }, ports: [hostPort] } });

  it("moves a NEW task of an allocated service to PENDING with the service's ports", () => {
    const next = gateTask(task("t", "s"), allocated, 42)!;
    expect(next.status).toMatchObject({ state: TaskState.TASK_STATE_PENDING, message: PENDING_MESSAGE, timestampUnixMs: 42 });
    expect(next.endpoint?.ports).toEqual([expect.objectContaining({ publishedPort: 8080 })]);
  });

  it("waits while the service's endpoint is not allocated for its spec", () => {
    expect(gateTask(task("t", "s"), service("s"), 1)).toBeNull();
    const changed = Service.fromPartial({ ...allocated, spec: { ...allocated.spec!, endpoint: { ports: [{ ...hostPort, publishedPort: 9090 }] } } });
    expect(gateTask(task("t", "s"), changed, 1)).toBeNull();
  });

  it("leaves tasks that are not NEW or no longer wanted", () => {
    expect(gateTask(Task.fromPartial({ ...task("t", "s"), status: { state: TaskState.TASK_STATE_PENDING } }), allocated, 1)).toBeNull();
    expect(gateTask(task("t", "s", TaskState.TASK_STATE_REMOVE), allocated, 1)).toBeNull();
  });
});

describe("Allocator", () => {
  let allocator: Allocator | null = null;
  afterEach(async () => allocator?.stop());

  it("allocates services and moves their NEW tasks to PENDING, before and after it starts", async () => {
    const { store } = newStore();
    await store.update((tx) => {
      tx.create("service", obj(service("s1")));
      tx.create("task", obj(task("t1", "s1")));
      tx.create("task", obj(task("gone", "s1", TaskState.TASK_STATE_REMOVE)));
    });
    allocator = new Allocator(store, { now: () => 7 });
    allocator.start();
    await until("t1 pending", () => getTask(store, "t1").status?.state === TaskState.TASK_STATE_PENDING);
    expect(getService(store, "s1").endpoint?.ports).toEqual([expect.objectContaining({ publishedPort: 8080 })]);
    expect(getTask(store, "t1").endpoint?.ports).toEqual([expect.objectContaining({ publishedPort: 8080 })]);
    expect(getTask(store, "gone").status?.state).toBe(TaskState.TASK_STATE_NEW);

    await store.update((tx) => tx.create("task", obj(task("t2", "s1"))));
    await until("t2 pending", () => getTask(store, "t2").status?.state === TaskState.TASK_STATE_PENDING);
  });

  it("re-allocates a service whose ports changed, and gates its new tasks with the new ports", async () => {
    const { store } = newStore();
    await store.update((tx) => tx.create("service", obj(service("s1"))));
    allocator = new Allocator(store);
    allocator.start();
    await until("allocated", () => getService(store, "s1").endpoint);
    const cur = getService(store, "s1");
    await store.update((tx) =>
      tx.update("service", obj({ ...cur, spec: { ...cur.spec!, endpoint: { mode: 0, ports: [{ name: "", protocol: 0, ...hostPort, publishedPort: 9090 }] } } })),
    );
    await store.update((tx) => tx.create("task", obj(task("t3", "s1"))));
    await until("t3 pending", () => getTask(store, "t3").status?.state === TaskState.TASK_STATE_PENDING);
    expect(getTask(store, "t3").endpoint?.ports).toEqual([expect.objectContaining({ publishedPort: 9090 })]);
  });

  it("does not lose a task whose transaction raced with another writer", async () => {
    const { store } = newStore();
    await store.update((tx) => {
      tx.create("service", obj(service("s1")));
      for (let i = 0; i < 20; i++) tx.create("task", obj(task(`t${i}`, "s1")));
    });
    allocator = new Allocator(store);
    allocator.start();
    // Another writer changes every task while the allocator works (the dispatcher, an orchestrator).
    for (let i = 0; i < 20; i++) {
      const t = getTask(store, `t${i}`);
      if (t.status?.state !== TaskState.TASK_STATE_NEW) continue;
      await store.update((tx) => tx.update("task", obj({ ...t, annotations: { name: `renamed${i}`, labels: {} } }))).catch(() => undefined);
    }
    await until("all pending", () => Array.from({ length: 20 }, (_, i) => getTask(store, `t${i}`)).every((t) => t.status?.state === TaskState.TASK_STATE_PENDING));
  });
});
