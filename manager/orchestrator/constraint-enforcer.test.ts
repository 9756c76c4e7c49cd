import { afterEach, describe, expect, it } from "vitest";
import type { Node, Task } from "../../proto/gen/objects.js";
import { TaskState as S } from "../../proto/gen/types.js";
import { ConstraintEnforcer } from "./constraint-enforcer.js";
import { CONSTRAINTS_ERR, RESOURCES_ERR } from "./decisions/enforcer.js";
import type { LeaderLoop } from "./leader-loop.js";
import { replicatedMode } from "./modes.js";
import { ServiceOrchestrator } from "./service-orchestrator.js";
import { FakeClock, change, liveTasks, makeNode, makeService, makeTask, newStore, obj, put, replicated, report, sequentialIds, taskOf, until } from "./test-support.js";

let running: LeaderLoop[] = [];
afterEach(async () => {
  for (const c of running) await c.stop();
  running = [];
});

const GB = 1024 ** 3;

describe("constraint enforcer", () => {
  it("rejects a task whose node no longer meets its constraints, and the orchestrator replaces it", async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    await put(store, "node", makeNode({ id: "n1", labels: { zone: "east" } }));
    await put(store, "service", makeService({ id: "web", mode: replicated(1), constraints: ["node.labels.zone==east"] }));
    running = [new ConstraintEnforcer(store, { clock, onError: () => undefined }), new ServiceOrchestrator(store, replicatedMode(), { clock, newId: sequentialIds(), onError: () => undefined })];
    running.forEach((c) => c.start());
    const [t] = await until("a task", () => liveTasks(store, "web").length === 1 && liveTasks(store, "web"));
    await report(store, clock, t!.id, S.TASK_STATE_RUNNING, "n1");

    await change<Node>(store, "node", "n1", (n) => (n.spec!.annotations!.labels = { zone: "west" }));
    await until("rejected", () => taskOf(store, t!.id)?.status?.state === S.TASK_STATE_REJECTED);
    expect(taskOf(store, t!.id)).toMatchObject({ desiredState: S.TASK_STATE_SHUTDOWN, status: { err: CONSTRAINTS_ERR, timestampUnixMs: clock.now() } });
    await until("replaced in its slot", () => liveTasks(store, "web").some((x) => x.id !== t!.id && x.slot === t!.slot));
  });

  it("rejects the newest tasks when the node's resources shrink, and checks every node on start", async () => {
    const clock = new FakeClock();
    const store = newStore(clock);
    await put(store, "node", makeNode({ id: "n1", memoryBytes: 2 * GB }));
    const task = (id: string, createdAt: number): Task => {
      const t = makeTask({ id, serviceId: "web", node: "n1", createdAt });
      t.spec!.resources = { limits: undefined, reservations: { nanoCpus: 0, memoryBytes: GB, generic: [] } };
      return t;
    };
    await store.update((tx) => ["a", "b"].forEach((id, i) => tx.create("task", obj(task(id, i)))));
    await change<Node>(store, "node", "n1", (n) => (n.description!.resources!.memoryBytes = 1.5 * GB));
    const enforcer = new ConstraintEnforcer(store, { clock, onError: () => undefined });
    running = [enforcer];
    enforcer.start();
    await until("b rejected", () => taskOf(store, "b")?.status?.err === RESOURCES_ERR);
    expect(taskOf(store, "a")?.status?.state).toBe(S.TASK_STATE_RUNNING);
  });
});
