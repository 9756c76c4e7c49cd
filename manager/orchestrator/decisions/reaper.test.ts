import { describe, expect, it } from "vitest";
import { Cluster } from "../../../proto/gen/objects.js";
import { TaskState as S } from "../../../proto/gen/types.js";
import { makeService, makeTask, replicated } from "../test-support.js";
import { historyLimit, reapServiceless, tasksToReap } from "./reaper.js";

const svc = makeService({ id: "s", mode: replicated(1) });
const cluster = (limit?: number) => Cluster.fromPartial({ id: "c", spec: { orchestration: limit === undefined ? {} : { taskHistoryRetentionLimit: limit } } });
const dead = (id: string, createdAt: number, o: Partial<Parameters<typeof makeTask>[0]> = {}) =>
  makeTask({ id, slot: 1, createdAt, statusAt: createdAt + 1, state: S.TASK_STATE_FAILED, desired: S.TASK_STATE_SHUTDOWN, ...o });
const ids = (ts: { id: string }[]) => ts.map((t) => t.id);

describe("historyLimit", () => {
  it.each([
    ["no cluster", undefined, undefined, 5],
    ["unset", cluster(), undefined, 5],
    ["set", cluster(3), undefined, 3],
    ["zero", cluster(0), undefined, 0],
    ["negative keeps all", cluster(-1), undefined, Infinity],
    ["max attempts + 1 when larger", cluster(2), makeService({ id: "s", mode: replicated(1), restart: { maxAttempts: 4 } }), 5],
    ["the limit when larger", cluster(9), makeService({ id: "s", mode: replicated(1), restart: { maxAttempts: 4 } }), 9],
  ])("%s → %s", (_, c, s, want) => {
    expect(historyLimit(c, s)).toBe(want);
  });
});

describe("tasksToReap", () => {
  const history = Array.from({ length: 8 }, (_, i) => dead(`d${i}`, 10 + i));
  const live = makeTask({ id: "live", slot: 1, createdAt: 100 });

  it("keeps the newest N stopped tasks of a slot and never a live one", () => {
    expect(ids(tasksToReap([live, ...history].reverse(), svc, 5))).toEqual(["d0", "d1", "d2"]);
    expect(tasksToReap([live, ...history], svc, Infinity)).toEqual([]);
    expect(ids(tasksToReap([live, ...history], svc, 0))).toEqual(ids(history));
  });

  it("neither counts nor deletes a task still stopping, nor one still wanted", () => {
    const stopping = dead("stopping", 5, { state: S.TASK_STATE_RUNNING });
    const neverRan = dead("unassigned", 6, { state: S.TASK_STATE_PENDING });
    expect(ids(tasksToReap([stopping, neverRan, dead("a", 7), live], svc, 1))).toEqual(["unassigned"]);
  });

  it("keeps the slot's newest task even with a limit of 0 (it may hold the slot or record a job's run)", () => {
    expect(ids(tasksToReap([dead("a", 1), dead("b", 2)], svc, 0))).toEqual(["a"]);
  });

  it("orders tasks created at the same time by their Raft index", () => {
    expect(ids(tasksToReap([dead("x", 1, { version: 9 }), dead("y", 1, { version: 3 }), live], svc, 1))).toEqual(["y"]);
  });

  it.each([
    ["stopped", S.TASK_STATE_SHUTDOWN, true],
    ["never assigned", S.TASK_STATE_PENDING, true],
    ["still running on its node", S.TASK_STATE_RUNNING, false],
    ["assigned, not yet stopped", S.TASK_STATE_ASSIGNED, false],
  ])("deletes a task desired REMOVE when %s: %s", (_, state, want) => {
    const t = dead("r", 1, { state, desired: S.TASK_STATE_REMOVE });
    expect(ids(tasksToReap([t, live], svc, Infinity))).toEqual(want ? ["r"] : []);
  });

  it("deletes the stopped and never-assigned tasks of a service that no longer exists", () => {
    const tasks = [dead("a", 1), makeTask({ id: "b", slot: 1, state: S.TASK_STATE_RUNNING }), makeTask({ id: "c", slot: 2, state: S.TASK_STATE_NEW })];
    expect(ids(tasksToReap(tasks, undefined, 5))).toEqual(["c", "a"]);
  });
});

describe("reapServiceless", () => {
  it.each([
    ["orphaned", makeTask({ id: "t", serviceId: "", state: S.TASK_STATE_ORPHANED }), true],
    ["removed and stopped", makeTask({ id: "t", serviceId: "", state: S.TASK_STATE_SHUTDOWN, desired: S.TASK_STATE_REMOVE }), true],
    ["failed, not removed", makeTask({ id: "t", serviceId: "", state: S.TASK_STATE_FAILED }), false],
    ["running", makeTask({ id: "t", serviceId: "" }), false],
  ])("%s → %s", (_, t, want) => {
    expect(reapServiceless(t)).toBe(want);
  });
});
