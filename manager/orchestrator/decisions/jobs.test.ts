import { describe, expect, it } from "vitest";
import type { Task } from "../../../proto/gen/objects.js";
import { NodeAvailability, RestartCondition, TaskState as S } from "../../../proto/gen/types.js";
import { globalJob, makeNode, makeService, makeTask, replicatedJob, serviceInput } from "../test-support.js";
import { jobLimits, reconcileGlobalJob, reconcileReplicatedJob } from "./jobs.js";
import type { Decision } from "./plan.js";

const NOW = 1_000_000;

function summary(d: Decision): string[] {
  const out: string[] = [];
  for (const s of d.steps) {
    for (const c of s.change) out.push(`${c.task.id} → ${S[c.desiredState!]}`);
    for (const t of s.create) out.push(`create ${t.nodeId || `slot ${t.slot}`} iteration ${t.jobIteration?.index}`);
  }
  return out;
}

describe("jobLimits", () => {
  it.each([
    [0, 0, 1, 1],
    [2, 0, 2, 2],
    [0, 3, 1, 3],
    [2, 5, 2, 5],
  ])("max_concurrent %i, total_completions %i → %i, %i", (max, total, wantMax, wantTotal) => {
    expect(jobLimits(makeService({ id: "s", mode: replicatedJob(max, total) }))).toEqual({ maxConcurrent: wantMax, totalCompletions: wantTotal });
  });
});

describe("reconcileReplicatedJob", () => {
  const svc = makeService({ id: "s", mode: replicatedJob(2, 5), jobIteration: 3 });
  const job = (id: string, slot: number, state: S, o: Partial<Parameters<typeof makeTask>[0]> = {}) =>
    makeTask({ id, slot, state, iteration: 3, createdAt: slot, statusAt: NOW, ...o });
  const decide = (tasks: Task[]) => summary(reconcileReplicatedJob(serviceInput(svc, tasks, [], NOW)));

  it.each([
    ["a fresh run starts max_concurrent tasks", [], ["create slot 1 iteration 3", "create slot 2 iteration 3"]],
    ["one running, one complete: one more, in the next free slot", [job("a", 1, S.TASK_STATE_RUNNING), job("b", 2, S.TASK_STATE_COMPLETE)], ["create slot 3 iteration 3"]],
    ["max_concurrent running: none", [job("a", 1, S.TASK_STATE_RUNNING), job("b", 2, S.TASK_STATE_PENDING)], []],
    ["three complete: the last two", [1, 2, 3].map((i) => job(`c${i}`, i, S.TASK_STATE_COMPLETE)), ["create slot 4 iteration 3", "create slot 5 iteration 3"]],
    ["four complete, one running: none", [...[1, 2, 3, 4].map((i) => job(`c${i}`, i, S.TASK_STATE_COMPLETE)), job("r", 5, S.TASK_STATE_RUNNING)], []],
    ["all complete: none", [1, 2, 3, 4, 5].map((i) => job(`c${i}`, i, S.TASK_STATE_COMPLETE)), []],
  ])("%s", (_, tasks, want) => {
    expect(decide(tasks)).toEqual(want);
  });

  it("restarts a failed task in its slot, gated by the delay", () => {
    const d = reconcileReplicatedJob(serviceInput(svc, [job("a", 1, S.TASK_STATE_FAILED), job("b", 2, S.TASK_STATE_RUNNING)], [], NOW));
    expect(summary(d)).toEqual(["a → TASK_STATE_SHUTDOWN", "create slot 1 iteration 3"]);
    expect(d.steps[0]!.create[0]!.desiredState).toBe(S.TASK_STATE_READY);
  });

  it("does not restart a completed task (ANY means ON_FAILURE): its slot is done", () => {
    const one = makeService({ id: "s", mode: replicatedJob(1, 2), jobIteration: 3 });
    expect(summary(reconcileReplicatedJob(serviceInput(one, [job("a", 1, S.TASK_STATE_COMPLETE)], [], NOW)))).toEqual(["create slot 2 iteration 3"]);
  });

  it("retires a failed task under NONE: its slot stays taken, the job goes on in the others", () => {
    const restart = { condition: RestartCondition.RESTART_CONDITION_NONE };
    const none = makeService({ id: "s", mode: replicatedJob(1, 2), jobIteration: 3, restart });
    expect(summary(reconcileReplicatedJob(serviceInput(none, [job("a", 1, S.TASK_STATE_FAILED, { restart })], [], NOW)))).toEqual([
      "a → TASK_STATE_SHUTDOWN",
      "create slot 2 iteration 3",
    ]);
    const retired = job("a", 1, S.TASK_STATE_FAILED, { restart, desired: S.TASK_STATE_SHUTDOWN });
    const second = job("b", 2, S.TASK_STATE_COMPLETE, { restart });
    expect(summary(reconcileReplicatedJob(serviceInput(none, [retired, second], [], NOW)))).toEqual([]);
  });

  it("removes the unfinished tasks of older iterations and starts the new one from slot 1", () => {
    const old = [
      job("done", 1, S.TASK_STATE_COMPLETE, { iteration: 2 }),
      job("running", 2, S.TASK_STATE_RUNNING, { iteration: 2 }),
      job("pending", 3, S.TASK_STATE_NEW, { iteration: 2, desired: S.TASK_STATE_READY }),
    ];
    expect(decide(old)).toEqual(["running → TASK_STATE_REMOVE", "pending → TASK_STATE_REMOVE", "create slot 1 iteration 3", "create slot 2 iteration 3"]);
  });
});

describe("reconcileGlobalJob", () => {
  const svc = makeService({ id: "s", mode: globalJob, jobIteration: 1 });
  const nodes = [makeNode({ id: "a" }), makeNode({ id: "b" }), makeNode({ id: "c", availability: NodeAvailability.NODE_AVAILABILITY_DRAIN })];
  const on = (id: string, node: string, state: S) => makeTask({ id, node, state, iteration: 1, createdAt: 1, statusAt: NOW });

  it("runs once on every eligible node, and not again where it completed", () => {
    expect(summary(reconcileGlobalJob(serviceInput(svc, [], nodes, NOW)))).toEqual(["create a iteration 1", "create b iteration 1"]);
    expect(summary(reconcileGlobalJob(serviceInput(svc, [on("t", "a", S.TASK_STATE_COMPLETE)], nodes, NOW)))).toEqual(["create b iteration 1"]);
  });

  it("stops the run on a drained node and restarts a failed one on its node", () => {
    const d = reconcileGlobalJob(serviceInput(svc, [on("ta", "a", S.TASK_STATE_FAILED), on("tb", "b", S.TASK_STATE_COMPLETE), on("tc", "c", S.TASK_STATE_RUNNING)], nodes, NOW));
    expect(summary(d)).toEqual(["ta → TASK_STATE_SHUTDOWN", "create a iteration 1", "tc → TASK_STATE_SHUTDOWN"]);
  });
});
