import { describe, expect, it } from "vitest";
import { RestartCondition as C, TaskState as S } from "../../../proto/gen/types.js";
import { makeTask } from "../test-support.js";
import { DEFAULT_RESTART_DELAY_MS, mayRestart, restartRules, restartsBefore } from "./restart.js";

describe("restartRules", () => {
  it.each([
    ["no policy", undefined, { condition: C.RESTART_CONDITION_ANY, delayMs: DEFAULT_RESTART_DELAY_MS, maxAttempts: 0, windowMs: 0 }],
    ["delay 0 is kept", { delayMs: 0 }, { condition: C.RESTART_CONDITION_ANY, delayMs: 0, maxAttempts: 0, windowMs: 0 }],
    ["all set", { condition: C.RESTART_CONDITION_NONE, delayMs: 7, maxAttempts: 3, windowMs: 9 }, { condition: C.RESTART_CONDITION_NONE, delayMs: 7, maxAttempts: 3, windowMs: 9 }],
  ])("%s", (_, restart, want) => {
    expect(restartRules(makeTask({ id: "t", ...(restart ? { restart } : {}) }))).toEqual(want);
  });
});

describe("mayRestart: conditions", () => {
  it.each([
    [C.RESTART_CONDITION_ANY, S.TASK_STATE_FAILED, false, true],
    [C.RESTART_CONDITION_ANY, S.TASK_STATE_COMPLETE, false, true],
    [C.RESTART_CONDITION_ANY, S.TASK_STATE_COMPLETE, true, false],
    [C.RESTART_CONDITION_ANY, S.TASK_STATE_FAILED, true, true],
    [C.RESTART_CONDITION_ON_FAILURE, S.TASK_STATE_COMPLETE, false, false],
    [C.RESTART_CONDITION_ON_FAILURE, S.TASK_STATE_FAILED, false, true],
    [C.RESTART_CONDITION_ON_FAILURE, S.TASK_STATE_REJECTED, false, true],
    [C.RESTART_CONDITION_NONE, S.TASK_STATE_FAILED, false, false],
    [C.RESTART_CONDITION_NONE, S.TASK_STATE_FAILED, true, false],
  ])("condition %s, ended %s, job %s → %s", (condition, state, job, want) => {
    const t = makeTask({ id: "t", state, restart: { condition } });
    expect(mayRestart(t, [t], job)).toBe(want);
  });
});

describe("mayRestart: attempts counted from the slot's history", () => {
  const restart = { maxAttempts: 2 };
  const dead = (id: string, createdAt: number, o: Parameters<typeof makeTask>[0] | object = {}) =>
    makeTask({ id, createdAt, statusAt: createdAt + 1, state: S.TASK_STATE_FAILED, desired: S.TASK_STATE_SHUTDOWN, restart, ...o });
  const failed = makeTask({ id: "now", createdAt: 100, statusAt: 150, state: S.TASK_STATE_FAILED, restart });

  it.each([
    ["first failure", [], true],
    ["one restart before", [dead("a", 10)], true],
    ["two restarts before", [dead("a", 10), dead("b", 20)], false],
    ["predecessors of another spec version do not count", [dead("a", 10, { specVersion: 0 }), dead("b", 20, { specVersion: 0 })], true],
    ["tasks being removed do not count", [dead("a", 10), dead("b", 20, { desired: S.TASK_STATE_REMOVE })], true],
    ["tasks created later do not count", [dead("a", 10), dead("z", 200)], true],
  ])("%s", (_, history, want) => {
    expect(mayRestart(failed, [...history, failed], false)).toBe(want);
  });

  it("counts only restarts within the window", () => {
    const windowed = { maxAttempts: 1, windowMs: 10_000 };
    const t = makeTask({ id: "now", createdAt: 50_000, statusAt: 60_000, state: S.TASK_STATE_FAILED, restart: windowed });
    const recent = dead("a", 40_000, { statusAt: 55_000, restart: windowed });
    const old = dead("a", 40_000, { statusAt: 45_000, restart: windowed });
    expect(restartsBefore(t, [recent, t], 10_000)).toBe(1);
    expect(mayRestart(t, [recent, t], false)).toBe(false);
    expect(mayRestart(t, [old, t], false)).toBe(true);
  });
});
