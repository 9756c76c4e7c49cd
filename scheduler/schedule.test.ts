// Group scheduling, ranking, failures and tasks that already name their node.
import { describe, expect, it } from "vitest";
import { TaskState } from "../proto/gen/types.js";
import type { TaskFailure } from "./failures.js";
import { schedule, type ScheduleResult } from "./schedule.js";
import { makeNode, makeTask, type NodeFixture, type TaskFixture } from "./test-support.js";

const running = TaskState.TASK_STATE_RUNNING;

function run(nodes: NodeFixture[], existing: TaskFixture[], pending: TaskFixture[], failures: TaskFailure[] = [], nowMs = 0): ScheduleResult {
  const pendingTasks = pending.map(makeTask);
  return schedule({ nodes: nodes.map(makeNode), tasks: [...existing.map(makeTask), ...pendingTasks], pending: pendingTasks, failures, nowMs });
}

/** Tasks per node id. */
function perNode(r: ScheduleResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of r.assigned) out[a.nodeId] = (out[a.nodeId] ?? 0) + 1;
  return out;
}

const tasks = (n: number, f: Omit<TaskFixture, "id"> = {}, prefix = "t"): TaskFixture[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, ...f }));

describe("group scheduling", () => {
  it("spreads 6 tasks of one service over 2 nodes 3/3", () => {
    const r = run([{ id: "a" }, { id: "b" }], [], tasks(6));
    expect(perNode(r)).toEqual({ a: 3, b: 3 });
    expect(r.unschedulable).toEqual([]);
  });

  it("evens out a service's tasks first, then balances total load, then takes the lower node id", () => {
    const existing: TaskFixture[] = [
      { id: "s1", nodeId: "a", state: running },
      { id: "s2", nodeId: "a", state: running },
      { id: "o1", serviceId: "other", nodeId: "b", state: running },
      { id: "o2", serviceId: "other", nodeId: "b", state: running },
    ];
    // (svc, total): a (2, 2), b (0, 2), c (0, 0) → c; b (0, 2) → b; c (1, 1) beats b (1, 3) → c;
    // b (1, 3) → b; all at 2 of svc, a (2, 2) and c (2, 2) tie on total → a, the lower id.
    const r = run([{ id: "a" }, { id: "b" }, { id: "c" }], existing, tasks(5));
    expect(r.assigned.map((a) => a.nodeId)).toEqual(["c", "b", "c", "b", "a"]);
    expect(run([{ id: "b" }, { id: "a" }], [], tasks(1)).assigned).toEqual([{ taskId: "t0", nodeId: "a" }]);
  });

  it("places what fits and explains the rest with the load it placed", () => {
    const r = run([{ id: "a" }, { id: "b" }], [], tasks(5, { memoryGiB: 3 }));
    expect(perNode(r)).toEqual({ a: 2, b: 2 });
    expect(r.unschedulable).toEqual([{ taskId: "t4", reason: "no suitable node (insufficient memory on 2 nodes)" }]);
  });

  it("stops at the per-node limit and at host ports in use", () => {
    const limited = run([{ id: "a" }, { id: "b" }], [], tasks(5, { maxReplicas: 2 }));
    expect(perNode(limited)).toEqual({ a: 2, b: 2 });
    expect(limited.unschedulable.map((u) => u.reason)).toEqual(["no suitable node (max replicas per node limit exceed on 2 nodes)"]);
    const ported = run([{ id: "a" }, { id: "b" }, { id: "c", labels: { x: "y" } }], [], tasks(4, { hostPorts: [80], constraints: ["node.labels.x!=y"] }));
    expect(perNode(ported)).toEqual({ a: 1, b: 1 });
    expect(ported.unschedulable.map((u) => u.reason)).toEqual([
      "no suitable node (host-mode port already in use on 2 nodes; scheduling constraints not satisfied on 1 node)",
      "no suitable node (host-mode port already in use on 2 nodes; scheduling constraints not satisfied on 1 node)",
    ]);
  });

  it("schedules groups in the order they appear, later groups seeing earlier placements", () => {
    const pending = [...tasks(2, { serviceId: "big", memoryGiB: 6 }, "big"), ...tasks(2, { serviceId: "small", memoryGiB: 4 }, "small")];
    const r = run([{ id: "a" }, { id: "b" }], [], pending);
    expect(perNode(r)).toEqual({ a: 1, b: 1 });
    expect(r.unschedulable).toEqual([
      { taskId: "small0", reason: "no suitable node (insufficient memory on 2 nodes)" },
      { taskId: "small1", reason: "no suitable node (insufficient memory on 2 nodes)" },
    ]);
  });

  it("keeps versions of one service apart but counts all their tasks per node", () => {
    const r = run([{ id: "a" }, { id: "b" }], [{ id: "old", nodeId: "a", state: running, specVersion: 1 }], tasks(1, { specVersion: 2, maxReplicas: 1 }));
    expect(r.assigned).toEqual([{ taskId: "t0", nodeId: "b" }]);
  });
});

describe("failures", () => {
  const f = (nodeId: string, atMs: number, specVersion = 1, serviceId = "svc"): TaskFailure => ({ nodeId, serviceId, specVersion, atMs });
  const five = (nodeId: string, atMs: number, specVersion = 1): TaskFailure[] => Array.from({ length: 5 }, () => f(nodeId, atMs, specVersion));
  const nodes = [{ id: "a" }, { id: "b" }];
  const now = 1_000_000;

  it.each([
    ["5 recent failures rank a node last", five("a", now - 299_999), "b"],
    ["4 recent failures do not", five("a", now - 1).slice(1), "a"],
    ["failures 5 minutes old no longer count", five("a", now - 300_000), "a"],
    ["failures of another version do not count", five("a", now, 2), "a"],
    ["failures of another service do not count", five("a", now).map((x) => ({ ...x, serviceId: "other" })), "a"],
    ["the node with fewer failures ranks first when both reach the limit", [...five("a", now), ...five("b", now), f("b", now)], "a"],
  ])("%s", (_name, failures, want) => {
    expect(run(nodes, [], tasks(1), failures, now).assigned).toEqual([{ taskId: "t0", nodeId: want }]);
  });

  it("ranks before the service's task count: a failing node is used only when it must be", () => {
    const r = run(nodes, [{ id: "x", nodeId: "b", state: running }], tasks(3), five("a", now), now);
    expect(r.assigned.map((a) => a.nodeId)).toEqual(["b", "b", "b"]);
    expect(run([{ id: "a" }], [], tasks(1), five("a", now), now).assigned).toEqual([{ taskId: "t0", nodeId: "a" }]);
  });
});

describe("tasks that name their node", () => {
  it("are assigned there when the node takes them, before any group", () => {
    const r = run([{ id: "a", memoryGiB: 4 }, { id: "b", memoryGiB: 4 }], [], [
      { id: "free", serviceId: "rep", memoryGiB: 3 },
      { id: "g-a", serviceId: "glob", nodeId: "a", memoryGiB: 3 },
    ]);
    expect(r.assigned).toEqual([
      { taskId: "g-a", nodeId: "a" },
      { taskId: "free", nodeId: "b" },
    ]);
  });

  it("stay pending with the node's reason otherwise", () => {
    const r = run(
      [{ id: "a", memoryGiB: 1 }, { id: "b", labels: { zone: "x" } }, { id: "c" }],
      [{ id: "x", nodeId: "c", state: running, serviceId: "glob" }],
      [
        { id: "g-a", serviceId: "glob", nodeId: "a", memoryGiB: 2 },
        { id: "g-b", serviceId: "glob", nodeId: "b", constraints: ["node.labels.zone!=x"] },
        { id: "g-c", serviceId: "glob", nodeId: "c", maxReplicas: 1 },
        { id: "g-gone", serviceId: "glob", nodeId: "gone" },
      ],
    );
    expect(r.assigned).toEqual([]);
    expect(r.unschedulable).toEqual([
      { taskId: "g-a", reason: "no suitable node (insufficient memory on 1 node)" },
      { taskId: "g-b", reason: "no suitable node (scheduling constraints not satisfied on 1 node)" },
      { taskId: "g-c", reason: "no suitable node (max replicas per node limit exceed on 1 node)" },
      { taskId: "g-gone", reason: "no suitable node (node gone not found)" },
    ]);
  });
});
