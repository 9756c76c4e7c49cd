import { describe, expect, it } from "vitest";
import type { Node, Task } from "../../../proto/gen/objects.js";
import { HealthConfig, NodeState, TaskState as S, UpdateOrder } from "../../../proto/gen/types.js";
import { makeNode, makeService, makeTask, replicated, type TaskFixture } from "../test-support.js";
import { OLD_TASK_TIMEOUT_MS } from "./gate.js";
import { healthDecisionMs, MIN_START_BOUND_MS, rulesOf, updateRules } from "./update-config.js";
import { judgeUpdateTask, mayStartAtMs, updateTaskOf } from "./update-progress.js";

const U = 10_000;
/** The start bound of a 5 s monitor window and no health check: a minute. */
const BOUND = MIN_START_BOUND_MS;
const v = (id: string, specVersion: number, createdAt: number, o: Partial<TaskFixture> = {}): Task => makeTask({ id, slot: 1, specVersion, createdAt, ...o });
const slot = (...tasks: Task[]) => ({ slot: 1, nodeId: "", tasks });
/** n1 and n2 are up; n8 is DOWN since U + 20 s (its last write); n9 is DOWN, since when is not known. */
const nodes: Node[] = [
  makeNode({ id: "n1" }),
  makeNode({ id: "n2" }),
  { ...makeNode({ id: "n8", state: NodeState.NODE_STATE_DOWN }), meta: { version: { index: 2 }, createdAtUnixMs: 0, updatedAtUnixMs: U + 20_000 } },
  makeNode({ id: "n9", state: NodeState.NODE_STATE_DOWN }),
];
const node = (id: string): Node | undefined => nodes.find((n) => n.id === id);

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
  const b = v("b", 2, U, { node: "n2", state: S.TASK_STATE_READY, desired: S.TASK_STATE_READY, restart });
  /** The old task, shut down by the update (or failed), on n1 unless told. */
  const a = (o: Partial<TaskFixture> = {}): Task => v("a", 1, 1, { node: "n1", desired: S.TASK_STATE_SHUTDOWN, ...o });
  it.each<[string, Task[], boolean, number]>([
    ["stop-first, the old task still stopping: when its gate opens at the latest (creation + 1 min)", [a(), b], false, U + OLD_TASK_TIMEOUT_MS],
    ["stop-first, the old task stopped: then (no restart delay)", [a({ state: S.TASK_STATE_SHUTDOWN, statusAt: U + 8_000 }), b], false, U + 8_000],
    ["stop-first, the old task's node went DOWN while it was stopping: then (no restart delay)", [a({ node: "n8" }), b], false, U + 20_000],
    ["stop-first, the old task never placed: its creation", [a({ node: "", state: S.TASK_STATE_PENDING }), b], false, U],
    ["start-first, the old task running beside it: its creation", [a({ desired: S.TASK_STATE_RUNNING }), b], true, U],
    ["start-first, the old task shut down once it ran: still its creation", [a({ state: S.TASK_STATE_SHUTDOWN, statusAt: U + 2_000 }), b], true, U],
    ["a replacement of a task that failed: after its restart delay", [a({ state: S.TASK_STATE_FAILED, statusAt: U }), b], false, U + 3_000],
    ["the same, start-first", [a({ state: S.TASK_STATE_FAILED, statusAt: U }), b], true, U + 3_000],
    ["a replacement of a task lost before it was made: after its restart delay", [a({ state: S.TASK_STATE_ORPHANED, statusAt: U - 1 }), b], true, U - 1 + 3_000],
    ["a replacement of a task on a DOWN node, start-first: after its restart delay", [a({ node: "n9", desired: S.TASK_STATE_RUNNING }), b], true, U + 3_000],
    ["no predecessor: its creation", [b], false, U],
  ])("%s", (_, tasks, startFirst, want) => {
    expect(mayStartAtMs(tasks.at(-1)!, tasks, node, startFirst)).toBe(want);
  });
});

describe("judgeUpdateTask (monitor 5 s, start bound 1 min)", () => {
  const rules = rulesOf({ parallelism: 1, delayMs: 0, failureAction: 0, monitorMs: 5_000, maxFailureRatio: 0, order: 0 }, false);
  /** The old task, shut down by a stop-first update as the new one was made. */
  const before = v("a", 1, 1, { node: "n1", desired: S.TASK_STATE_SHUTDOWN, state: S.TASK_STATE_SHUTDOWN, statusAt: U });
  const at = (state: S, statusAt: number, o: Partial<TaskFixture> = {}) => v("b", 2, U, { state, statusAt, ...o });
  it.each<[string, Task, number, { failedAtMs: number | null; settledAtMs: number | null; watchedUntilMs: number | null }]>([
    ["starting, within its bound", at(S.TASK_STATE_STARTING, U + 100), U + BOUND - 1, { failedAtMs: null, settledAtMs: null, watchedUntilMs: U + BOUND }],
    ["starting at its bound: failed", at(S.TASK_STATE_PREPARING, U + 100), U + BOUND, { failedAtMs: U + BOUND, settledAtMs: U + BOUND, watchedUntilMs: null }],
    ["running, monitored", at(S.TASK_STATE_RUNNING, U + 1_000), U + 2_000, { failedAtMs: null, settledAtMs: U + 1_000, watchedUntilMs: U + 6_000 }],
    ["running past its monitor window: final", at(S.TASK_STATE_RUNNING, U + 1_000), U + 6_000, { failedAtMs: null, settledAtMs: U + 1_000, watchedUntilMs: null }],
    ["running only after its bound (it was failed until then): watched", at(S.TASK_STATE_RUNNING, U + BOUND + 1), U + BOUND + 1, { failedAtMs: null, settledAtMs: U + BOUND, watchedUntilMs: U + BOUND + 5_001 }],
    ["failed within bound + monitor: failed", at(S.TASK_STATE_FAILED, U + BOUND + 5_000), U + BOUND + 5_000, { failedAtMs: U + BOUND + 5_000, settledAtMs: U + BOUND + 5_000, watchedUntilMs: null }],
    ["failed after bound + monitor: not a failure", at(S.TASK_STATE_FAILED, U + BOUND + 5_001), U + BOUND + 5_001, { failedAtMs: null, settledAtMs: U + BOUND + 5_001, watchedUntilMs: null }],
    ["completed early: failed (a service task must not exit)", at(S.TASK_STATE_COMPLETE, U + 2_000), U + 2_000, { failedAtMs: U + 2_000, settledAtMs: U + 2_000, watchedUntilMs: null }],
    ["shut down: not a failure", at(S.TASK_STATE_SHUTDOWN, U + 2_000), U + 2_000, { failedAtMs: null, settledAtMs: U + 2_000, watchedUntilMs: null }],
    ["stopped by the orchestrators before it ran: not a failure", at(S.TASK_STATE_PENDING, U, { desired: S.TASK_STATE_SHUTDOWN, updatedAt: U + 300 }), U + 9_000, { failedAtMs: null, settledAtMs: U + 300, watchedUntilMs: null }],
  ])("%s", (_, t, now, want) => {
    expect(judgeUpdateTask(t, [before, t], rules, now, node)).toMatchObject(want);
  });

  it("says why it failed", () => {
    const failed = at(S.TASK_STATE_FAILED, U + 1_000);
    failed.status!.err = "exit code 3";
    expect(judgeUpdateTask(failed, [before, failed], rules, U + 1_000, node).failure).toBe("failed: exit code 3");
    expect(judgeUpdateTask(at(S.TASK_STATE_ASSIGNED, U), [before], rules, U + BOUND, node).failure).toBe("not running within 60s (assigned)");
  });

  it("a task that timed out says in which state, and why it is stuck there", () => {
    const unplaced = at(S.TASK_STATE_PENDING, U);
    unplaced.status!.err = "no suitable node (2 nodes not available for new tasks; 1 node lacks memory)";
    expect(judgeUpdateTask(unplaced, [before, unplaced], rules, U + BOUND - 1, node)).toMatchObject({ failedAtMs: null, failure: "" });
    expect(judgeUpdateTask(unplaced, [before, unplaced], rules, U + BOUND, node)).toMatchObject({
      failedAtMs: U + BOUND,
      failure: "not running within 60s (pending: no suitable node (2 nodes not available for new tasks; 1 node lacks memory))",
    });
    const preparing = at(S.TASK_STATE_PREPARING, U + 100);
    preparing.status!.message = "pulling image v2";
    expect(judgeUpdateTask(preparing, [before, preparing], rules, U + BOUND, node).failure).toBe("not running within 60s (preparing: pulling image v2)");
  });
});

describe("judgeUpdateTask: a stop-first task at its gate (monitor 5 s, start bound 1 min)", () => {
  const rules = rulesOf({ parallelism: 1, delayMs: 0, failureAction: 0, monitorMs: 5_000, maxFailureRatio: 0, order: UpdateOrder.UPDATE_ORDER_STOP_FIRST }, false);
  const startFirst = { ...rules, order: UpdateOrder.UPDATE_ORDER_START_FIRST };
  const old = (o: Partial<TaskFixture> = {}): Task => v("a", 1, 1, { node: "n1", desired: S.TASK_STATE_SHUTDOWN, ...o });
  const gated = (o: Partial<TaskFixture> = {}): Task => v("b", 2, U, { node: "n1", state: S.TASK_STATE_READY, desired: S.TASK_STATE_READY, statusAt: U + 100, ...o });
  const slow = old({ state: S.TASK_STATE_SHUTDOWN, statusAt: U + 8_000 });
  it.each<[string, Task, Task, number, { failedAtMs: number | null; settledAtMs: number | null; watchedUntilMs: number | null }]>([
    ["the old task still stopping: starting (busy), watched until the gate's latest opening + bound", old(), gated(), U + 30_000, { failedAtMs: null, settledAtMs: null, watchedUntilMs: U + OLD_TASK_TIMEOUT_MS + BOUND }],
    ["the old one stopped late (8 s): its bound runs from then", slow, gated({ desired: S.TASK_STATE_RUNNING, state: S.TASK_STATE_STARTING }), U + 8_000 + BOUND - 1, { failedAtMs: null, settledAtMs: null, watchedUntilMs: U + 8_000 + BOUND }],
    ["…and fails only at its end", slow, gated({ desired: S.TASK_STATE_RUNNING, state: S.TASK_STATE_STARTING }), U + 8_000 + BOUND, { failedAtMs: U + 8_000 + BOUND, settledAtMs: U + 8_000 + BOUND, watchedUntilMs: null }],
    ["it runs 2 s after the gate opened: settled then, monitored", slow, gated({ desired: S.TASK_STATE_RUNNING, state: S.TASK_STATE_RUNNING, statusAt: U + 10_000 }), U + 11_000, { failedAtMs: null, settledAtMs: U + 10_000, watchedUntilMs: U + 15_000 }],
    ["the old one never stops: the gate opens after 1 min, the bound runs from then", old(), gated({ desired: S.TASK_STATE_RUNNING }), U + OLD_TASK_TIMEOUT_MS + BOUND, { failedAtMs: U + OLD_TASK_TIMEOUT_MS + BOUND, settledAtMs: U + OLD_TASK_TIMEOUT_MS + BOUND, watchedUntilMs: null }],
    ["rejected while waiting at its gate (its image could not be pulled): failed", old(), gated({ state: S.TASK_STATE_REJECTED, statusAt: U + 2_000 }), U + 2_000, { failedAtMs: U + 2_000, settledAtMs: U + 2_000, watchedUntilMs: null }],
  ])("%s", (_, before, t, now, want) => {
    expect(judgeUpdateTask(t, [before, t], rules, now, node)).toMatchObject(want);
  });

  it("a start-first task's bound runs from its creation, the old task running beside it", () => {
    const t = gated({ desired: S.TASK_STATE_RUNNING, state: S.TASK_STATE_STARTING });
    const slotTasks = [old({ desired: S.TASK_STATE_RUNNING }), t];
    expect(judgeUpdateTask(t, slotTasks, startFirst, U + BOUND - 1, node)).toMatchObject({ failedAtMs: null, watchedUntilMs: U + BOUND });
    expect(judgeUpdateTask(t, slotTasks, startFirst, U + BOUND, node)).toMatchObject({ failedAtMs: U + BOUND });
  });
});

describe("rulesOf", () => {
  it("fills SwarmKit's defaults when the config is absent", () => {
    expect(rulesOf(undefined, false)).toEqual({ parallelism: 1, delayMs: 0, failureAction: 0, monitorMs: 5_000, startWithinMs: 60_000, maxFailureRatio: 0, order: 0 });
  });

  it("keeps parallelism 0 (all at once) and monitor 0 (not watched; the start bound stays 1 min)", () => {
    expect(rulesOf({ parallelism: 0, delayMs: 0, failureAction: 1, monitorMs: 0, maxFailureRatio: 0.5, order: 1 }, false)).toEqual({
      parallelism: 0,
      delayMs: 0,
      failureAction: 1,
      monitorMs: 0,
      startWithinMs: 60_000,
      maxFailureRatio: 0.5,
      order: 1,
    });
  });

  it.each<[string, number | undefined, number, number]>([
    ["a monitor window shorter than a minute: a minute", 5_000, 0, 60_000],
    ["a monitor window of a minute: a minute", 60_000, 0, 60_000],
    ["a monitor window longer than a minute: the window", 90_000, 0, 90_000],
    ["a health check's decision time comes on top", undefined, 16_000, 76_000],
    ["…of a long monitor window too", 90_000, 16_000, 106_000],
  ])("start bound: %s", (_, monitorMs, healthMs, want) => {
    const config = monitorMs === undefined ? undefined : { parallelism: 1, delayMs: 0, failureAction: 0, monitorMs, maxFailureRatio: 0, order: 0 };
    expect(rulesOf(config, false, healthMs)).toMatchObject({ monitorMs: monitorMs ?? 5_000, startWithinMs: want });
    expect(rulesOf(config, true, healthMs).startWithinMs).toBe(want);
  });

  it("a rollback's rollback action pauses", () => {
    expect(rulesOf({ parallelism: 1, delayMs: 0, failureAction: 2, maxFailureRatio: 0, order: 0 }, true).failureAction).toBe(0);
    expect(rulesOf({ parallelism: 1, delayMs: 0, failureAction: 2, maxFailureRatio: 0, order: 0 }, false).failureAction).toBe(2);
  });
});

describe("healthDecisionMs", () => {
  const check = (h: Partial<HealthConfig>): HealthConfig => HealthConfig.fromPartial({ test: ["CMD", "check"], ...h });
  it.each<[string, HealthConfig | undefined, number]>([
    ["no health check in the spec", undefined, 0],
    ["NONE: the image's check disabled", check({ test: ["NONE"], intervalMs: 1_000, retries: 2 }), 0],
    ["explicit: start period, then retries × (interval + timeout)", check({ startPeriodMs: 10_000, intervalMs: 2_000, timeoutMs: 1_000, retries: 2 }), 16_000],
    ["CMD-SHELL, explicit", check({ test: ["CMD-SHELL", "curl -f localhost"], intervalMs: 5_000, timeoutMs: 2_000, retries: 1 }), 7_000],
    ["every field 0: docker's defaults (3 × (30 s + 30 s), no start period)", check({}), 180_000],
    ["interval set, timeout and retries 0: their defaults", check({ startPeriodMs: 4_000, intervalMs: 5_000 }), 4_000 + 3 * (5_000 + 30_000)],
    ["retries set, interval and timeout 0: their defaults", check({ retries: 1 }), 60_000],
    ["no test and no timings: the image's own check, unknown here", check({ test: [] }), 0],
    ["no test, timings set: the image's check run with them", check({ test: [], startPeriodMs: 120_000, intervalMs: 5_000, timeoutMs: 1_000, retries: 2 }), 132_000],
  ])("%s", (_, h, want) => {
    expect(healthDecisionMs(h)).toBe(want);
  });
});

describe("updateRules: the health check of the tasks lengthens the start bound", () => {
  /** Service "s" at spec version 2, rolled out from version 1; its tasks have `health` (none when undefined). */
  const withHealth = (health: Partial<HealthConfig> | undefined, monitorMs?: number) => {
    const s = makeService({ id: "s", mode: replicated(3), image: "v2", specVersion: 2, previous: { image: "v1", specVersion: 1 }, ...(monitorMs === undefined ? {} : { update: { monitorMs }, rollback: { monitorMs } }) });
    if (health && s.spec?.task?.runtime?.$case === "container") s.spec.task.runtime.container.healthcheck = HealthConfig.fromPartial(health);
    return s;
  };
  const h = { test: ["CMD", "check"], startPeriodMs: 4_000, intervalMs: 1_000, timeoutMs: 500, retries: 2 };

  it.each<[string, Partial<HealthConfig> | undefined, number | undefined, number]>([
    ["no health check: a minute", undefined, undefined, BOUND],
    ["a health check: a minute plus its decision time (4 s + 2 × 1.5 s)", h, undefined, BOUND + 7_000],
    ["a health check with docker's defaults: a minute plus 3 min", { test: ["CMD", "check"] }, undefined, BOUND + 180_000],
    ["a health check disabled (NONE): a minute", { ...h, test: ["NONE"] }, undefined, BOUND],
    ["a health check and a 2 min monitor window: the window plus its decision time", h, 120_000, 120_000 + 7_000],
  ])("%s", (_, health, monitorMs, want) => {
    expect(updateRules(withHealth(health, monitorMs), false).startWithinMs).toBe(want);
    expect(updateRules(withHealth(health, monitorMs), true).startWithinMs).toBe(want);
  });

  it("a rollback's bound takes the health check of the spec it restores (the current one), not of the spec rolled back from", () => {
    const rollingBack = withHealth(undefined);
    const from = rollingBack.previousSpec?.task?.runtime;
    if (from?.$case === "container") from.container.healthcheck = HealthConfig.fromPartial(h);
    expect(rollingBack.previousSpec?.task?.runtime).toMatchObject({ container: { healthcheck: { retries: 2 } } });
    expect(updateRules(rollingBack, true).startWithinMs).toBe(BOUND);
  });

  it("a task with a health check is not failed before the longer bound", () => {
    const rules = updateRules(withHealth(h), false);
    const before = v("a", 1, 1, { node: "n1", desired: S.TASK_STATE_SHUTDOWN, state: S.TASK_STATE_SHUTDOWN, statusAt: U });
    const t = v("b", 2, U, { node: "n1", state: S.TASK_STATE_STARTING, statusAt: U + 2_000 });
    expect(judgeUpdateTask(t, [before, t], rules, U + BOUND, node)).toMatchObject({ failedAtMs: null, watchedUntilMs: U + BOUND + 7_000 });
    expect(judgeUpdateTask(t, [before, t], rules, U + BOUND + 7_000, node)).toMatchObject({ failedAtMs: U + BOUND + 7_000, failure: "not running within 67s (starting)" });
  });
});
