import { describe, expect, it } from "vitest";
import { RestartCondition as C, TaskState as S } from "../../../proto/gen/types.js";
import { makeTask } from "../test-support.js";
import { DEFAULT_RESTART_DELAY_MS, gateOpensAtMs, mayRestart, replacementStart, restartRules, restartsBefore } from "./restart.js";

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

describe("replacementStart", () => {
  const now = 100_000;
  it.each([
    ["exited just now: wait the delay", makeTask({ id: "t", state: S.TASK_STATE_FAILED, statusAt: now - 1_000 }), "exited", S.TASK_STATE_READY, now + 4_000],
    ["exited long ago: start at once", makeTask({ id: "t", state: S.TASK_STATE_FAILED, statusAt: now - 60_000 }), "exited", S.TASK_STATE_RUNNING, now - 55_000],
    ["node down: from now", makeTask({ id: "t", state: S.TASK_STATE_RUNNING, statusAt: now - 60_000 }), "down", S.TASK_STATE_READY, now + 5_000],
    ["node drained: no delay", makeTask({ id: "t", state: S.TASK_STATE_RUNNING }), "drained", S.TASK_STATE_RUNNING, now],
    ["delay 0", makeTask({ id: "t", state: S.TASK_STATE_FAILED, statusAt: now, restart: { delayMs: 0 } }), "exited", S.TASK_STATE_RUNNING, now],
    ["a status from the future counts as now", makeTask({ id: "t", state: S.TASK_STATE_FAILED, statusAt: now + 9_000 }), "exited", S.TASK_STATE_READY, now + 5_000],
  ] as const)("%s", (_, old, cause, desiredState, startAtMs) => {
    expect(replacementStart(old, cause, now)).toEqual({ desiredState, startAtMs });
  });
});

describe("gateOpensAtMs", () => {
  const gated = makeTask({ id: "new", createdAt: 1_000, desired: S.TASK_STATE_READY, state: S.TASK_STATE_NEW, version: 9 });
  it.each([
    ["the predecessor ended before: its end + delay", [makeTask({ id: "old", createdAt: 10, statusAt: 800, state: S.TASK_STATE_FAILED })], 5_800],
    ["the predecessor did not end (node down): creation + delay", [makeTask({ id: "old", createdAt: 10, statusAt: 500 })], 6_000],
    ["the predecessor ended after the creation: creation + delay", [makeTask({ id: "old", createdAt: 10, statusAt: 3_000, state: S.TASK_STATE_SHUTDOWN })], 6_000],
    ["no predecessor: creation + delay", [], 6_000],
    [
      "the latest predecessor is the one",
      [makeTask({ id: "older", createdAt: 5, statusAt: 6, state: S.TASK_STATE_FAILED }), makeTask({ id: "old", createdAt: 10, statusAt: 900, state: S.TASK_STATE_FAILED })],
      5_900,
    ],
  ])("%s", (_, before, want) => {
    expect(gateOpensAtMs(gated, [...before, gated])).toBe(want);
  });
});
