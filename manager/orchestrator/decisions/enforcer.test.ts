import { describe, expect, it } from "vitest";
import type { Node, Task } from "../../../proto/gen/objects.js";
import { NodeAvailability, TaskState as S } from "../../../proto/gen/types.js";
import { makeNode, makeTask } from "../test-support.js";
import { CONSTRAINTS_ERR, REJECTED_MESSAGE, RESOURCES_ERR, rejectStep, tasksToReject } from "./enforcer.js";

const GB = 1024 ** 3;

function placed(id: string, createdAt: number, o: { constraints?: string[]; memoryBytes?: number; nanoCpus?: number; state?: S; desired?: S; node?: string } = {}): Task {
  const t = makeTask({ id, node: o.node ?? "n", createdAt, state: o.state ?? S.TASK_STATE_RUNNING, desired: o.desired ?? S.TASK_STATE_RUNNING });
  if (o.constraints) t.spec!.placement = { constraints: o.constraints, preferences: [], platforms: [], maxReplicas: 0 };
  if (o.memoryBytes || o.nanoCpus) t.spec!.resources = { limits: undefined, reservations: { nanoCpus: o.nanoCpus ?? 0, memoryBytes: o.memoryBytes ?? 0, generic: [] } };
  return t;
}

const rejected = (node: Node, tasks: Task[]) => tasksToReject(node, tasks).map((r) => `${r.task.id}: ${r.err}`);

describe("tasksToReject", () => {
  const east = makeNode({ id: "n", labels: { zone: "east" } });

  it("rejects tasks whose constraints the node no longer meets, oldest first", () => {
    const tasks = [placed("b", 2, { constraints: ["node.labels.zone==west"] }), placed("ok", 1, { constraints: ["node.labels.zone==east"] }), placed("a", 1, { constraints: ["node.labels.zone!=east"] })];
    expect(rejected(east, tasks)).toEqual([`a: ${CONSTRAINTS_ERR}`, `b: ${CONSTRAINTS_ERR}`]);
  });

  it.each([
    ["paused", NodeAvailability.NODE_AVAILABILITY_PAUSE],
    ["drained", NodeAvailability.NODE_AVAILABILITY_DRAIN],
  ])("leaves a %s node's tasks alone", (_, availability) => {
    expect(rejected(makeNode({ id: "n", availability }), [placed("a", 1, { constraints: ["node.labels.zone==west"] })])).toEqual([]);
  });

  it.each([
    ["not yet assigned", { state: S.TASK_STATE_PENDING }],
    ["already stopped", { state: S.TASK_STATE_FAILED }],
    ["being shut down", { desired: S.TASK_STATE_SHUTDOWN }],
    ["on another node", { node: "other" }],
  ])("ignores a task %s", (_, o) => {
    expect(rejected(east, [placed("a", 1, { constraints: ["node.labels.zone==west"], ...o })])).toEqual([]);
  });

  it("rejects the most recently created tasks until the reservations fit", () => {
    const node = makeNode({ id: "n", memoryBytes: 1 * GB, nanoCpus: 4e9 });
    const tasks = [placed("a", 1, { memoryBytes: 0.4 * GB }), placed("b", 2, { memoryBytes: 0.4 * GB }), placed("c", 3, { memoryBytes: 0.4 * GB }), placed("free", 4)];
    expect(rejected(node, tasks)).toEqual([`c: ${RESOURCES_ERR}`]);
  });

  it("checks each resource: only tasks reserving the exceeded one go", () => {
    const node = makeNode({ id: "n", memoryBytes: 8 * GB, nanoCpus: 1e9 });
    const tasks = [placed("cpu1", 1, { nanoCpus: 1e9 }), placed("mem", 2, { memoryBytes: GB }), placed("cpu2", 3, { nanoCpus: 5e8 })];
    expect(rejected(node, tasks)).toEqual([`cpu2: ${RESOURCES_ERR}`]);
  });

  it("does not check resources the node has not described", () => {
    expect(rejected(makeNode({ id: "n" }), [placed("a", 1, { memoryBytes: GB })])).toEqual([]);
  });
});

describe("rejectStep", () => {
  it("makes the task observed REJECTED with the reason, desired SHUTDOWN", () => {
    const t = placed("a", 1);
    const s = rejectStep({ task: t, err: CONSTRAINTS_ERR }, 42);
    expect(s.change).toEqual([{ task: t, desiredState: S.TASK_STATE_SHUTDOWN, status: expect.objectContaining({ state: S.TASK_STATE_REJECTED, err: CONSTRAINTS_ERR, message: REJECTED_MESSAGE, timestampUnixMs: 42 }) }]);
  });
});
