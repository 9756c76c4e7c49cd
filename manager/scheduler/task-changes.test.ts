import { describe, expect, it } from "vitest";
import type { Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { makeTask, type TaskFixture } from "../../scheduler/test-support.js";
import type { StoreEvent, StoreObject } from "../store/index.js";
import { needsPlacement, taskChange, type TaskChange } from "./task-changes.js";

const S = TaskState;
const o = (t: Task): StoreObject => t as unknown as StoreObject;
const task = (f: Partial<TaskFixture> = {}): Task => makeTask({ id: "t", ...f });
const update = (old: Partial<TaskFixture>, cur: Partial<TaskFixture>): StoreEvent => ({ type: "update", kind: "task", version: 2, old: o(task(old)), object: o(task(cur)) });
const notParked = (): boolean => false;

describe("needsPlacement", () => {
  it.each([
    [S.TASK_STATE_PENDING, S.TASK_STATE_RUNNING, true],
    [S.TASK_STATE_PENDING, S.TASK_STATE_READY, true],
    [S.TASK_STATE_PENDING, S.TASK_STATE_SHUTDOWN, false],
    [S.TASK_STATE_NEW, S.TASK_STATE_RUNNING, false],
    [S.TASK_STATE_ASSIGNED, S.TASK_STATE_RUNNING, false],
  ])("state %i, desired %i → %s", (state, desired, want) => {
    expect(needsPlacement(task({ state, desired }))).toBe(want);
  });
});

describe("taskChange", () => {
  const onA = { nodeId: "a" };
  const cases: [string, StoreEvent, TaskChange][] = [
    ["a pending task created", { type: "create", kind: "task", version: 1, object: o(task()) }, { consider: "t" }],
    ["a NEW task created", { type: "create", kind: "task", version: 1, object: o(task({ state: S.TASK_STATE_NEW })) }, { settled: "t" }],
    ["a pending task removed", { type: "remove", kind: "task", version: 2, old: o(task()) }, { settled: "t", freed: false }],
    ["a running task removed", { type: "remove", kind: "task", version: 2, old: o(task({ ...onA, state: S.TASK_STATE_RUNNING })) }, { settled: "t", freed: true }],
    ["a task assigned", update({}, { ...onA, state: S.TASK_STATE_ASSIGNED }), { settled: "t", freed: false }],
    ["a running task completes", update({ ...onA, state: S.TASK_STATE_RUNNING }, { ...onA, state: S.TASK_STATE_COMPLETE }), { settled: "t", freed: true }],
    ["a running task told to shut down still holds", update({ ...onA, state: S.TASK_STATE_RUNNING }, { ...onA, state: S.TASK_STATE_RUNNING, desired: S.TASK_STATE_SHUTDOWN }), { settled: "t", freed: false }],
    [
      "a starting task fails",
      update({ ...onA, state: S.TASK_STATE_STARTING }, { ...onA, state: S.TASK_STATE_FAILED }),
      { settled: "t", freed: true, failed: { nodeId: "a", serviceId: "svc", specVersion: 1 } },
    ],
    [
      "an assigned task is rejected",
      update({ ...onA, state: S.TASK_STATE_ASSIGNED }, { ...onA, state: S.TASK_STATE_REJECTED }),
      { settled: "t", freed: true, failed: { nodeId: "a", serviceId: "svc", specVersion: 1 } },
    ],
    ["a failed task written again is no new failure", update({ ...onA, state: S.TASK_STATE_FAILED }, { ...onA, state: S.TASK_STATE_FAILED }), { settled: "t", freed: false }],
    ["a task failing without a node", update({ state: S.TASK_STATE_PENDING }, { state: S.TASK_STATE_FAILED }), { settled: "t", freed: false }],
    ["a pending task changed", update({}, { desired: S.TASK_STATE_READY }), { consider: "t", freed: false }],
  ];
  it.each(cases)("%s", (_name, e, want) => {
    expect(taskChange(e, notParked)).toEqual(want);
  });

  it("does not reconsider a parked task when it stays pending on the same node (its err written back)", () => {
    expect(taskChange(update({}, {}), () => true)).toEqual({ freed: false });
    expect(taskChange(update({}, { nodeId: "b" }), () => true)).toEqual({ consider: "t", freed: false });
    expect(taskChange(update({ state: S.TASK_STATE_NEW }, {}), () => true)).toEqual({ consider: "t", freed: false });
  });
});
