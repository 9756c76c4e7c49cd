import { afterEach, describe, expect, it } from "vitest";
import type { Service, Task } from "../../proto/gen/objects.js";
import { TaskState as S } from "../../proto/gen/types.js";
import type { LeaderComponent } from "../leader-components.js";
import { createOrchestrators, REAPER_BATCH_MS } from "./index.js";
import type { LeaderLoop } from "./leader-loop.js";
import { FakeClock, change, liveTasks, makeNode, makeService, newStore, obj, put, quiesce, replicated, sequentialIds, tasksOf, until } from "./test-support.js";

let components: LeaderComponent[] = [];
afterEach(async () => {
  for (const c of [...components].reverse()) await c.stop();
  components = [];
});

describe("createOrchestrators", () => {
  it("returns the components in start order", () => {
    const clock = new FakeClock();
    components = createOrchestrators(newStore(clock), { now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
    expect(components.map((c) => c.name)).toEqual(["replicated-orchestrator", "global-orchestrator", "job-orchestrator", "task-reaper", "constraint-enforcer"]);
  });

  it("runs a service's life: created, scaled down, removed, its tasks deleted", async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    const errors: string[] = [];
    components = createOrchestrators(store, {
      now: clock.now,
      newId: sequentialIds(),
      setTimer: clock.setTimer,
      clearTimer: clock.clearTimer,
      onError: (name, e) => errors.push(`${name}: ${e.message}`),
    });
    const abort = new AbortController();
    for (const c of components) await c.start(abort.signal);
    await put(store, "node", makeNode({ id: "n1" }));
    await put(store, "service", makeService({ id: "web", mode: replicated(3) }));
    await until("3 tasks", () => liveTasks(store, "web").length === 3);

    await change<Service>(store, "service", "web", (s) => (s.spec!.mode = replicated(1)));
    await until("2 removed", () => tasksOf(store, "web").filter((t) => t.desiredState === S.TASK_STATE_REMOVE).length === 2);
    await quiesce(...(components as LeaderLoop[]));
    clock.advance(REAPER_BATCH_MS);
    await until("the removed ones deleted (never assigned)", () => tasksOf(store, "web").length === 1);

    // As the control API removes a service: delete it and mark its tasks REMOVE, in one transaction.
    await store.update((tx) => {
      for (const t of tx.find("task", "service", "web")) tx.update("task", obj({ ...(t as unknown as Task), desiredState: S.TASK_STATE_REMOVE }));
      tx.remove("service", "web");
    });
    await quiesce(...(components as LeaderLoop[]));
    clock.advance(REAPER_BATCH_MS);
    await until("no tasks left", () => tasksOf(store, "web").length === 0);
    await quiesce(...(components as LeaderLoop[]));
    expect(tasksOf(store, "web")).toEqual([]);
    expect(errors).toEqual([]);
  });
});
