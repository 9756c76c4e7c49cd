import { describe, expect, it } from "vitest";
import type { Task } from "../../../proto/gen/objects.js";
import { TaskState as S } from "../../../proto/gen/types.js";
import { makeTask, type TaskFixture } from "../test-support.js";
import { rulesOf } from "./update-config.js";
import { judgeUpdateTask, mayStartAtMs, updateTaskOf } from "./update-progress.js";

const U = 10_000;
const v = (id: string, specVersion: number, createdAt: number, o: Partial<TaskFixture> = {}): Task => makeTask({ id, slot: 1, specVersion, createdAt, ...o });
const slot = (...tasks: Task[]) => ({ slot: 1, nodeId: "", tasks });
const never = (): boolean => false;

describe("updateTaskOf", () => {
  it.each<[string, Task[], string | undefined]>([
    ["the first task of the spec version after the newest of another version", [v("a", 1, 0), v("b", 2, U + 1), v("c", 2, U + 2)], "b"],
    ["none of the spec version yet", [v("a", 1, 0)], undefined],
    ["a slot new since the spec changed (scaled up) is not updated", [v("b", 2, U + 1)], undefined],
    ["an earlier period of the same version does not count (a rollback to it)", [v("a", 2, 0), v("b", 3, 5), v("c", 2, U + 1)], "c"],
    ["restored by a rollback, not replaced yet", [v("a", 2, 0), v("b", 3, 5)], undefined],
  ])("%s", (_, tasks, want) => {
    expect(updateTaskOf(slot(...tasks), 2)?.id).toBe(want);
  });
});

describe("mayStartAtMs", () => {
  const restart = { delayMs: 3_000 };
  it.each<[string, Task[], boolean, number]>([
    ["the updater's replacement: its creation", [v("a", 1, 0, { desired: S.TASK_STATE_SHUTDOWN }), v("b", 2, U, { restart })], false, U],
    ["a replacement of a task that failed: after its restart delay", [v("a", 1, 0, { state: S.TASK_STATE_FAILED, statusAt: U }), v("b", 2, U, { restart })], false, U + 3_000],
    ["a replacement of a task lost before it was made: after its restart delay", [v("a", 1, 0, { state: S.TASK_STATE_ORPHANED, statusAt: U - 1 }), v("b", 2, U, { restart })], false, U - 1 + 3_000],
    ["a replacement of a task on a failed node: after its restart delay", [v("a", 1, 0, { desired: S.TASK_STATE_SHUTDOWN }), v("b", 2, U, { restart })], true, U + 3_000],
    ["no predecessor: its creation", [v("b", 2, U, { restart })], true, U],
  ])("%s", (_, tasks, nodeFailed, want) => {
    expect(mayStartAtMs(tasks.at(-1)!, tasks, () => nodeFailed)).toBe(want);
  });
});

describe("judgeUpdateTask (monitor 5 s)", () => {
  const rules = rulesOf({ parallelism: 1, delayMs: 0, failureAction: 0, monitorMs: 5_000, maxFailureRatio: 0, order: 0 }, false);
  const before = v("a", 1, 0, { desired: S.TASK_STATE_SHUTDOWN });
  const at = (state: S, statusAt: number, o: Partial<TaskFixture> = {}) => v("b", 2, U, { state, statusAt, ...o });
  it.each<[string, Task, number, { failedAtMs: number | null; settledAtMs: number | null; watchedUntilMs: number | null }]>([
    ["starting, within its bound", at(S.TASK_STATE_STARTING, U + 100), U + 4_999, { failedAtMs: null, settledAtMs: null, watchedUntilMs: U + 5_000 }],
    ["starting at its bound: failed", at(S.TASK_STATE_PREPARING, U + 100), U + 5_000, { failedAtMs: U + 5_000, settledAtMs: U + 5_000, watchedUntilMs: null }],
    ["running, monitored", at(S.TASK_STATE_RUNNING, U + 1_000), U + 2_000, { failedAtMs: null, settledAtMs: U + 1_000, watchedUntilMs: U + 6_000 }],
    ["running past its monitor window: final", at(S.TASK_STATE_RUNNING, U + 1_000), U + 6_000, { failedAtMs: null, settledAtMs: U + 1_000, watchedUntilMs: null }],
    ["running only after its bound (it was failed until then): watched", at(S.TASK_STATE_RUNNING, U + 5_001), U + 5_001, { failedAtMs: null, settledAtMs: U + 5_000, watchedUntilMs: U + 10_001 }],
    ["failed within bound + monitor: failed", at(S.TASK_STATE_FAILED, U + 10_000), U + 10_000, { failedAtMs: U + 10_000, settledAtMs: U + 10_000, watchedUntilMs: null }],
    ["failed after bound + monitor: not a failure", at(S.TASK_STATE_FAILED, U + 10_001), U + 10_001, { failedAtMs: null, settledAtMs: U + 10_001, watchedUntilMs: null }],
    ["completed early: failed (a service task must not exit)", at(S.TASK_STATE_COMPLETE, U + 2_000), U + 2_000, { failedAtMs: U + 2_000, settledAtMs: U + 2_000, watchedUntilMs: null }],
    ["shut down: not a failure", at(S.TASK_STATE_SHUTDOWN, U + 2_000), U + 2_000, { failedAtMs: null, settledAtMs: U + 2_000, watchedUntilMs: null }],
    ["stopped by the orchestrators before it ran: not a failure", at(S.TASK_STATE_PENDING, U, { desired: S.TASK_STATE_SHUTDOWN, updatedAt: U + 300 }), U + 9_000, { failedAtMs: null, settledAtMs: U + 300, watchedUntilMs: null }],
  ])("%s", (_, t, now, want) => {
    expect(judgeUpdateTask(t, [before, t], rules, now, never)).toMatchObject(want);
  });

  it("says why it failed", () => {
    const failed = at(S.TASK_STATE_FAILED, U + 1_000);
    failed.status!.err = "exit code 3";
    expect(judgeUpdateTask(failed, [before, failed], rules, U + 1_000, never).failure).toBe("failed: exit code 3");
    expect(judgeUpdateTask(at(S.TASK_STATE_ASSIGNED, U), [before], rules, U + 5_000, never).failure).toBe("not running within 5s");
  });
});

describe("rulesOf", () => {
  it("fills SwarmKit's defaults when the config is absent", () => {
    expect(rulesOf(undefined, false)).toEqual({ parallelism: 1, delayMs: 0, failureAction: 0, monitorMs: 5_000, startWithinMs: 5_000, maxFailureRatio: 0, order: 0 });
  });

  it("keeps parallelism 0 (all at once) and monitor 0 (not watched; the start bound stays 5 s)", () => {
    expect(rulesOf({ parallelism: 0, delayMs: 0, failureAction: 1, monitorMs: 0, maxFailureRatio: 0.5, order: 1 }, false)).toEqual({
      parallelism: 0,
      delayMs: 0,
      failureAction: 1,
      monitorMs: 0,
      startWithinMs: 5_000,
      maxFailureRatio: 0.5,
      order: 1,
    });
  });

  it("a rollback's rollback action pauses", () => {
    expect(rulesOf({ parallelism: 1, delayMs: 0, failureAction: 2, maxFailureRatio: 0, order: 0 }, true).failureAction).toBe(0);
    expect(rulesOf({ parallelism: 1, delayMs: 0, failureAction: 2, maxFailureRatio: 0, order: 0 }, false).failureAction).toBe(2);
  });
});
