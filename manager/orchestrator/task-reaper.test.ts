import { afterEach, describe, expect, it } from "vitest";
import { Cluster, type Service } from "../../proto/gen/objects.js";
import { TaskState as S } from "../../proto/gen/types.js";
import type { LeaderLoop } from "./leader-loop.js";
import { replicatedMode } from "./modes.js";
import { ServiceOrchestrator } from "./service-orchestrator.js";
import { REAPER_BATCH_MS, TaskReaper } from "./task-reaper.js";
import { FakeClock, change, liveTasks, makeNode, makeService, makeTask, newStore, obj, put, quiesce, replicated, report, sequentialIds, taskOf, tasksOf, until } from "./test-support.js";

let running: LeaderLoop[] = [];
afterEach(async () => {
  for (const c of running) await c.stop();
  running = [];
});

async function setup(withOrchestrator = true) {
  const clock = new FakeClock();
  const store = newStore(clock);
  const errors: Error[] = [];
  await put(store, "node", makeNode({ id: "n1" }));
  const reaper = new TaskReaper(store, { clock, onError: (e) => errors.push(e) });
  running.push(reaper);
  if (withOrchestrator) running.push(new ServiceOrchestrator(store, replicatedMode(), { clock, newId: sequentialIds(), onError: (e) => errors.push(e) }));
  for (const c of running) c.start();
  return { clock, store, reaper, errors };
}

describe("task reaper", () => {
  it("keeps the 5 newest stopped tasks of a slot, after 250 ms", async () => {
    const { clock, store, reaper } = await setup();
    await put(store, "service", makeService({ id: "web", mode: replicated(1), restart: { delayMs: 0 } }));
    for (let i = 0; i < 8; i++) {
      const [t] = await until(`task ${i}`, () => liveTasks(store, "web").length === 1 && liveTasks(store, "web"));
      clock.advance(1); // not a full batch window
      await report(store, clock, t!.id, S.TASK_STATE_FAILED, "n1");
      await until(`task ${i} replaced`, () => liveTasks(store, "web").some((x) => x.id !== t!.id));
    }
    await quiesce(...running);
    expect(tasksOf(store, "web")).toHaveLength(9);
    const oldest = tasksOf(store, "web").sort((a, b) => a.meta!.createdAtUnixMs - b.meta!.createdAtUnixMs).slice(0, 3);
    clock.advance(REAPER_BATCH_MS);
    await until("history trimmed", () => tasksOf(store, "web").length === 6);
    await quiesce(reaper);
    expect(oldest.map((t) => taskOf(store, t.id))).toEqual([undefined, undefined, undefined]);
    expect(liveTasks(store, "web")).toHaveLength(1);
  });

  it("follows the cluster's retention limit", async () => {
    const { clock, store } = await setup(false);
    await put(store, "service", makeService({ id: "web", mode: replicated(1) }));
    await store.update((tx) => {
      for (let i = 0; i < 4; i++) tx.create("task", obj(makeTask({ id: `d${i}`, serviceId: "web", slot: 1, createdAt: i, state: S.TASK_STATE_FAILED, desired: S.TASK_STATE_SHUTDOWN })));
    });
    clock.advance(REAPER_BATCH_MS);
    await quiesce(...running);
    expect(tasksOf(store, "web")).toHaveLength(4);
    await put(store, "cluster", Cluster.fromPartial({ id: "c", spec: { annotations: { name: "default" }, orchestration: { taskHistoryRetentionLimit: 2 } } }));
    await quiesce(...running);
    clock.advance(REAPER_BATCH_MS);
    await until("history trimmed to 2", () => tasksOf(store, "web").map((t) => t.id).join() === "d2,d3");
  });

  it("deletes removed tasks once stopped or if never assigned, and the tasks of deleted services", async () => {
    const { clock, store } = await setup(false);
    await put(store, "service", makeService({ id: "web", mode: replicated(1) }));
    await store.update((tx) => {
      tx.create("task", obj(makeTask({ id: "running", serviceId: "web", slot: 1, desired: S.TASK_STATE_REMOVE })));
      tx.create("task", obj(makeTask({ id: "new", serviceId: "web", slot: 2, state: S.TASK_STATE_NEW, desired: S.TASK_STATE_REMOVE })));
      tx.create("task", obj(makeTask({ id: "orphan", serviceId: "gone", slot: 1, state: S.TASK_STATE_FAILED })));
    });
    await quiesce(...running);
    clock.advance(REAPER_BATCH_MS);
    await until("stopped ones deleted", () => !taskOf(store, "new") && !taskOf(store, "orphan"));
    expect(taskOf(store, "running")).toBeDefined();
    await report(store, clock, "running", S.TASK_STATE_SHUTDOWN);
    await quiesce(...running);
    clock.advance(REAPER_BATCH_MS);
    await until("the last one deleted", () => !taskOf(store, "running"));
  });

  it("does not wait for the batch window with over 1,000 slots to look at", async () => {
    const { store } = await setup(false);
    await put(store, "service", makeService({ id: "web", mode: replicated(1) }));
    await change<Service>(store, "service", "web", (s) => (s.pendingDelete = true));
    await store.update((tx) => {
      for (let i = 1; i <= 1_001; i++) tx.create("task", obj(makeTask({ id: `t${i}`, serviceId: "web", slot: i, state: S.TASK_STATE_COMPLETE })));
    });
    await until("deleted without the clock moving", () => tasksOf(store, "web").length === 0);
  });
});
