import { describe, expect, it } from "vitest";
import type { Task } from "../../../proto/gen/objects.js";
import { NodeAvailability, NodeState, RestartCondition, TaskState as S, UpdateState } from "../../../proto/gen/types.js";
import { makeNode, makeService, makeTask, replicated, serviceInput } from "../test-support.js";
import { OLD_TASK_TIMEOUT_MS } from "./gate.js";
import type { Decision } from "./plan.js";
import { chooseSlotsToRemove, reconcileReplicated, type TakenSlot } from "./replicated.js";

const NOW = 1_000_000;
const nodes = [makeNode({ id: "n1" }), makeNode({ id: "n2" }), makeNode({ id: "n3" })];
const svc = (replicas: number, o: Partial<Parameters<typeof makeService>[0]> = {}) => makeService({ id: "s", mode: replicated(replicas), ...o });
const decide = (replicas: number, tasks: Task[], o: Partial<Parameters<typeof makeService>[0]> = {}, ns = nodes) =>
  reconcileReplicated(serviceInput(svc(replicas, o), tasks, ns, NOW));
const running = (id: string, slot: number, node: string, o: Partial<Parameters<typeof makeTask>[0]> = {}) =>
  makeTask({ id, slot, node, createdAt: slot, ...o });

/** The decision as a list of "created SLOT/NODE DESIRED" and "ID → DESIRED" lines. */
function summary(d: Decision): string[] {
  const out: string[] = [];
  for (const s of d.steps) {
    for (const c of s.change) out.push(`${c.task.id} → ${S[c.desiredState!]}`);
    for (const t of s.create) out.push(`create slot ${t.slot}${t.nodeId ? ` on ${t.nodeId}` : ""} ${S[t.desiredState]}`);
  }
  return out;
}

describe("reconcileReplicated: scaling", () => {
  it("creates slots 1..N for a new service, NEW and desired RUNNING", () => {
    const d = decide(3, []);
    expect(summary(d)).toEqual(["create slot 1 TASK_STATE_RUNNING", "create slot 2 TASK_STATE_RUNNING", "create slot 3 TASK_STATE_RUNNING"]);
    expect(d.steps[0]!.create[0]!.status?.state).toBe(S.TASK_STATE_NEW);
    expect(d.steps.every((s) => s.specVersion === 1)).toBe(true);
  });

  it("fills the lowest missing slots", () => {
    expect(summary(decide(4, [running("a", 1, "n1"), running("c", 3, "n2")]))).toEqual(["create slot 2 TASK_STATE_RUNNING", "create slot 4 TASK_STATE_RUNNING"]);
  });

  it("does nothing once converged", () => {
    expect(decide(2, [running("a", 1, "n1"), running("b", 2, "n2")]).steps).toEqual([]);
  });

  it("keeps the count when slot numbers are above N", () => {
    expect(decide(2, [running("a", 1, "n1"), running("e", 5, "n2")]).steps).toEqual([]);
  });

  it("scales down: non-running tasks first, then the busiest node, every task of the slot REMOVE", () => {
    const tasks = [
      running("a", 1, "n1"),
      running("b", 2, "n1"),
      running("c", 3, "n2"),
      makeTask({ id: "p", slot: 4, state: S.TASK_STATE_PENDING, createdAt: 4 }),
      makeTask({ id: "old2", slot: 2, node: "n1", state: S.TASK_STATE_FAILED, desired: S.TASK_STATE_SHUTDOWN, createdAt: 0 }),
    ];
    expect(summary(decide(2, tasks))).toEqual(["p → TASK_STATE_REMOVE", "old2 → TASK_STATE_REMOVE", "b → TASK_STATE_REMOVE"]);
  });
});

describe("chooseSlotsToRemove", () => {
  const taken = (slot: number, node: string, state = S.TASK_STATE_RUNNING): TakenSlot => {
    const task = makeTask({ id: `t${slot}`, slot, node, state });
    return { slot: { slot, nodeId: "", tasks: [task] }, verdict: { kind: "running", task } };
  };
  it.each([
    ["the busiest node first", [taken(1, "n1"), taken(2, "n2"), taken(3, "n2"), taken(4, "n2")], 2, [4, 3]],
    ["ties go to the smallest node id, its highest slot", [taken(1, "n2"), taken(2, "n1"), taken(3, "n1"), taken(4, "n2")], 1, [3]],
    ["balances as it goes", [taken(1, "n1"), taken(2, "n1"), taken(3, "n1"), taken(4, "n2"), taken(5, "n2")], 3, [3, 2, 5]],
    ["not running before running, highest slot first", [taken(1, "n1"), taken(2, "n1", S.TASK_STATE_STARTING), taken(3, "n2", S.TASK_STATE_ASSIGNED)], 2, [3, 2]],
    ["nothing to remove", [taken(1, "n1")], 0, []],
  ])("%s", (_, slots, count, want) => {
    expect(chooseSlotsToRemove(slots, count).map((s) => s.slot.slot)).toEqual(want);
  });
});

describe("reconcileReplicated: restarts", () => {
  it("shuts a failed task down and gates its replacement in the same slot until the delay is over", () => {
    const d = decide(1, [running("a", 1, "n1", { state: S.TASK_STATE_FAILED, statusAt: NOW - 1_000 })]);
    expect(summary(d)).toEqual(["a → TASK_STATE_SHUTDOWN", "create slot 1 TASK_STATE_READY"]);
    expect(d.wakeAtMs).toBe(NOW + 4_000);
  });

  it("starts the replacement at once when the delay passed already", () => {
    const d = decide(1, [running("a", 1, "n1", { state: S.TASK_STATE_FAILED, statusAt: NOW - 6_000 })]);
    expect(summary(d)).toEqual(["a → TASK_STATE_SHUTDOWN", "create slot 1 TASK_STATE_RUNNING"]);
    expect(d.wakeAtMs).toBeNull();
  });

  it.each([
    ["NONE", { condition: RestartCondition.RESTART_CONDITION_NONE }, S.TASK_STATE_FAILED],
    ["ON_FAILURE after success", { condition: RestartCondition.RESTART_CONDITION_ON_FAILURE }, S.TASK_STATE_COMPLETE],
  ])("retires the task under %s, and the slot stays taken afterwards", (_, restart, state) => {
    const t = running("a", 1, "n1", { state, restart });
    expect(summary(decide(1, [t], { restart }))).toEqual(["a → TASK_STATE_SHUTDOWN"]);
    expect(decide(1, [{ ...t, desiredState: S.TASK_STATE_SHUTDOWN }], { restart }).steps).toEqual([]);
  });

  it("stops restarting after max attempts", () => {
    const restart = { maxAttempts: 1 };
    const first = makeTask({ id: "a", slot: 1, createdAt: 1, statusAt: 2, state: S.TASK_STATE_FAILED, desired: S.TASK_STATE_SHUTDOWN, restart });
    const second = makeTask({ id: "b", slot: 1, createdAt: 3, statusAt: 4, state: S.TASK_STATE_FAILED, restart });
    expect(summary(decide(1, [first, second], { restart }))).toEqual(["b → TASK_STATE_SHUTDOWN"]);
  });

  it.each([
    ["down: gated for the restart delay", makeNode({ id: "n1", state: NodeState.NODE_STATE_DOWN }), NOW + 5_000],
    ["drained: gated until the old task stopped (its agent stops it), 1 min at most", makeNode({ id: "n1", availability: NodeAvailability.NODE_AVAILABILITY_DRAIN }), NOW + OLD_TASK_TIMEOUT_MS],
    ["removed: gated for the restart delay", undefined, NOW + 5_000],
  ])("replaces a task whose node is %s (the old one keeps its observed state)", (_, node, wake) => {
    const ns = [...(node ? [node] : []), makeNode({ id: "n2" })];
    const d = decide(1, [running("a", 1, "n1")], {}, ns);
    expect(summary(d)).toEqual(["a → TASK_STATE_SHUTDOWN", "create slot 1 TASK_STATE_READY"]);
    expect(d.steps[0]!.change[0]!.status).toBeUndefined();
    expect(d.wakeAtMs).toBe(wake);
  });

  it.each<[string, Task, number, string[], number | null]>([
    ["a drained node's task still stopping: its replacement waits", running("a", 1, "n1", { desired: S.TASK_STATE_SHUTDOWN }), NOW + 2_000, [], NOW + OLD_TASK_TIMEOUT_MS],
    ["…stopped: its replacement starts at once, no restart delay", running("a", 1, "n1", { desired: S.TASK_STATE_SHUTDOWN, state: S.TASK_STATE_SHUTDOWN, statusAt: NOW + 2_000 }), NOW + 2_000, ["b → TASK_STATE_RUNNING"], null],
    ["a failed task's replacement: its restart delay after the failure", running("a", 1, "n1", { desired: S.TASK_STATE_SHUTDOWN, state: S.TASK_STATE_FAILED, statusAt: NOW - 1 }), NOW + 4_998, [], NOW + 4_999],
    ["…then it starts", running("a", 1, "n1", { desired: S.TASK_STATE_SHUTDOWN, state: S.TASK_STATE_FAILED, statusAt: NOW - 1 }), NOW + 4_999, ["b → TASK_STATE_RUNNING"], null],
  ])("a gated replacement (made at NOW): %s", (_, old, now, want, wake) => {
    const drained = [makeNode({ id: "n1", availability: NodeAvailability.NODE_AVAILABILITY_DRAIN }), makeNode({ id: "n2" })];
    const gated = makeTask({ id: "b", slot: 1, node: "n2", createdAt: NOW, state: S.TASK_STATE_READY, desired: S.TASK_STATE_READY });
    const d = reconcileReplicated(serviceInput(svc(1), [old, gated], drained, now));
    expect(summary(d)).toEqual(want);
    expect(d.wakeAtMs).toBe(wake);
  });

  it("fills a slot whose task the constraint enforcer rejected, at once", () => {
    const rejected = running("a", 1, "n1", { state: S.TASK_STATE_REJECTED, desired: S.TASK_STATE_SHUTDOWN });
    expect(summary(decide(1, [rejected]))).toEqual(["create slot 1 TASK_STATE_RUNNING"]);
  });

  it("starts a gated task whose delay is over, and waits for one whose delay is not", () => {
    const old = makeTask({ id: "a", slot: 1, createdAt: 1, statusAt: NOW - 10_000, state: S.TASK_STATE_FAILED, desired: S.TASK_STATE_SHUTDOWN });
    const gatedOver = makeTask({ id: "b", slot: 1, createdAt: NOW - 9_000, state: S.TASK_STATE_READY, desired: S.TASK_STATE_READY });
    const old2 = makeTask({ id: "c", slot: 2, createdAt: 1, statusAt: NOW - 1_000, state: S.TASK_STATE_FAILED, desired: S.TASK_STATE_SHUTDOWN });
    const gatedNot = makeTask({ id: "d", slot: 2, createdAt: NOW - 900, state: S.TASK_STATE_PENDING, desired: S.TASK_STATE_READY });
    const d = decide(2, [old, gatedOver, old2, gatedNot]);
    expect(summary(d)).toEqual(["b → TASK_STATE_RUNNING"]);
    expect(d.wakeAtMs).toBe(NOW + 4_000);
  });

  it("shuts down extra live tasks of one slot, keeping the newest", () => {
    expect(summary(decide(1, [running("a", 1, "n1"), running("b", 1, "n2", { createdAt: 9 })]))).toEqual(["a → TASK_STATE_SHUTDOWN"]);
  });
});

describe("reconcileReplicated: spec changes", () => {
  const updating = { updateStatus: { state: UpdateState.UPDATE_STATE_UPDATING, startedAtUnixMs: 0 }, update: { parallelism: 0 } };

  it("starts an update when tasks are dirty, replacing nothing yet", () => {
    const d = decide(1, [running("a", 1, "n1", { specVersion: 1, image: "busybox" })], { specVersion: 2, image: "nginx" });
    expect(summary(d)).toEqual([]);
    expect(d.steps.map((s) => s.service?.updateStatus.state)).toEqual([UpdateState.UPDATE_STATE_UPDATING]);
  });

  it("replaces dirty tasks in their slots, stop-first, and leaves clean ones", () => {
    const tasks = [running("a", 1, "n1", { specVersion: 1, image: "busybox" }), running("b", 2, "n2", { specVersion: 1, image: "busybox" })];
    const d = decide(2, [tasks[0]!, { ...tasks[1]!, specVersion: { index: 2 } }], { specVersion: 2, image: "nginx", ...updating });
    expect(summary(d)).toEqual(["a → TASK_STATE_SHUTDOWN", "create slot 1 TASK_STATE_READY"]);
    expect(d.steps[0]!.create[0]!.spec?.runtime).toEqual({ $case: "container", container: expect.objectContaining({ image: "nginx" }) });
  });

  it("replaces a held task when the spec changes", () => {
    const restart = { condition: RestartCondition.RESTART_CONDITION_NONE };
    const held = running("a", 1, "n1", { state: S.TASK_STATE_FAILED, desired: S.TASK_STATE_SHUTDOWN, restart });
    expect(summary(decide(1, [held], { restart, specVersion: 2, image: "nginx", ...updating }))).toEqual(["create slot 1 TASK_STATE_RUNNING"]);
  });
});
