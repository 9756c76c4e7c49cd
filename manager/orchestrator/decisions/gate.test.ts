import { describe, expect, it } from "vitest";
import type { Node, Task } from "../../../proto/gen/objects.js";
import { NodeAvailability, NodeState, TaskState as S } from "../../../proto/gen/types.js";
import { makeNode, makeTask, type TaskFixture } from "../test-support.js";
import { OLD_TASK_TIMEOUT_MS, gateOpensAtMs, tasksBefore } from "./gate.js";

/** When the gated task was created. */
const C = 100_000;
const gated = (o: Partial<TaskFixture> = {}): Task => makeTask({ id: "new", slot: 1, createdAt: C, desired: S.TASK_STATE_READY, state: S.TASK_STATE_READY, version: 9, ...o });
/** A task before it in the slot, on node `node` (default n1), created long before. */
const before = (id: string, o: Partial<TaskFixture> = {}): Task => makeTask({ id, slot: 1, node: "n1", createdAt: 10, desired: S.TASK_STATE_SHUTDOWN, ...o });
const ended = (id: string, state: S, at: number, o: Partial<TaskFixture> = {}): Task => before(id, { state, statusAt: at, ...o });
/** Node n1 DOWN since `since` (its last write). */
const downSince = (since: number): Node => ({ ...makeNode({ id: "n1", state: NodeState.NODE_STATE_DOWN }), meta: { version: { index: 3 }, createdAtUnixMs: 0, updatedAtUnixMs: since } });
const lookup = (nodes: Node[]) => (id: string) => nodes.find((n) => n.id === id);
const active = [makeNode({ id: "n1" }), makeNode({ id: "n2" })];

describe("gateOpensAtMs: the wait for the tasks before it, then the restart delay (5 s unless told)", () => {
  it.each<[string, Task[], Node[], number, Partial<TaskFixture>?]>([
    // Restarts: the task before it failed before it was made.
    ["the task before it failed just before: its end + the delay", [ended("old", S.TASK_STATE_FAILED, C - 1_000)], active, C + 4_000],
    ["it failed long ago: at creation", [ended("old", S.TASK_STATE_FAILED, C - 60_000)], active, C],
    ["it was lost (ORPHANED) before: its end + the delay", [ended("old", S.TASK_STATE_ORPHANED, C - 1_000)], active, C + 4_000],
    ["it was lost (SHUTDOWN unasked) before: its end + the delay", [ended("old", S.TASK_STATE_SHUTDOWN, C - 1_000)], active, C + 4_000],
    ["its node was DOWN when the replacement was made: creation + the delay", [before("old")], [downSince(C - 100)], C + 5_000],
    ["its node DOWN, since when unknown: creation + the delay", [before("old")], [downSince(0)], C + 5_000],
    ["its node was removed: creation + the delay", [before("old")], [], C + 5_000],
    ["the gated task's own delay counts", [ended("old", S.TASK_STATE_FAILED, C - 1_000)], active, C + 9_000, { restart: { delayMs: 10_000 } }],
    ["the latest task before it decides the delay", [ended("older", S.TASK_STATE_FAILED, 6, { createdAt: 5 }), ended("old", S.TASK_STATE_FAILED, C - 100)], active, C + 4_900],
    // Stopped on the orchestrator's request (stop-first update, drain): no delay, but a wait.
    ["it still runs (stop-first, stopping): creation + 1 min at the latest", [before("old")], active, C + OLD_TASK_TIMEOUT_MS],
    ["it ended SHUTDOWN after the creation: then, no delay", [ended("old", S.TASK_STATE_SHUTDOWN, C + 3_000)], active, C + 3_000],
    ["it ended SHUTDOWN in the same millisecond: then", [ended("old", S.TASK_STATE_SHUTDOWN, C)], active, C],
    ["it ended SHUTDOWN after the timeout: the timeout", [ended("old", S.TASK_STATE_SHUTDOWN, C + 90_000)], active, C + OLD_TASK_TIMEOUT_MS],
    ["its node went DOWN while it was stopping: then, no delay", [before("old")], [downSince(C + 20_000)], C + 20_000],
    ["on a drained node, running: waited for (its agent stops it)", [before("old")], [makeNode({ id: "n1", availability: NodeAvailability.NODE_AVAILABILITY_DRAIN })], C + OLD_TASK_TIMEOUT_MS],
    ["on a drained node, stopped: then, no delay", [ended("old", S.TASK_STATE_SHUTDOWN, C + 2_000)], [makeNode({ id: "n1", availability: NodeAvailability.NODE_AVAILABILITY_DRAIN })], C + 2_000],
    ["on a paused node, running: waited for", [before("old")], [makeNode({ id: "n1", availability: NodeAvailability.NODE_AVAILABILITY_PAUSE })], C + OLD_TASK_TIMEOUT_MS],
    ["never placed (PENDING, no node): nothing to wait for, no delay", [before("old", { node: "", state: S.TASK_STATE_PENDING })], active, C],
    ["a long restart delay does not apply to a stop on request", [before("old")], active, C + OLD_TASK_TIMEOUT_MS, { restart: { delayMs: 90_000 } }],
    ["it failed while stopping (ended FAILED after the creation): then, or creation + the delay", [ended("old", S.TASK_STATE_FAILED, C + 3_000)], active, C + 5_000],
    // Every task before it is waited for, not only the latest.
    [
      "an older task still stopping on another node is waited for too",
      [before("older", { node: "n2", createdAt: 5 }), ended("old", S.TASK_STATE_FAILED, C - 1_000)],
      active,
      C + OLD_TASK_TIMEOUT_MS,
    ],
    [
      "the older task stopped after the delay's end: then",
      [ended("older", S.TASK_STATE_SHUTDOWN, C + 7_000, { node: "n2", createdAt: 5 }), ended("old", S.TASK_STATE_FAILED, C - 1_000)],
      active,
      C + 7_000,
    ],
    ["no task before it (deleted): creation + the delay", [], active, C + 5_000],
  ])("%s", (_, tasks, nodes, want, o) => {
    expect(gateOpensAtMs(gated(o), tasks, lookup(nodes))).toBe(want);
  });
});

describe("tasksBefore", () => {
  it("keeps the slot's tasks made before the task, not the task itself or later ones", () => {
    const t = gated();
    const slot = [before("a"), t, makeTask({ id: "z", slot: 1, createdAt: C + 1 })];
    expect(tasksBefore(t, slot).map((x) => x.id)).toEqual(["a"]);
  });
});
