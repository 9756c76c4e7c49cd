import { describe, expect, it } from "vitest";
import type { Task } from "../../../proto/gen/objects.js";
import { TaskState as S } from "../../../proto/gen/types.js";
import { makeTask, type TaskFixture } from "../test-support.js";
import { judgeSlot, type JudgeOptions } from "./slots.js";

const oldTask = (o: Partial<TaskFixture> = {}): Task => makeTask({ id: "old", slot: 1, node: "n1", createdAt: 1, ...o });
const newTask = (o: Partial<TaskFixture> = {}): Task => makeTask({ id: "new", slot: 1, node: "n2", createdAt: 2, state: S.TASK_STATE_STARTING, ...o });
const down = (nodeId: string): JudgeOptions["nodeFailure"] => (t) => (t.nodeId === nodeId ? "down" : null);

/** A slot with two live tasks (a start-first replacement) judged: the verdict's kind and task, the extras, the tasks kept aside. */
function judged(tasks: Task[], o: JudgeOptions = { job: false }): string {
  const { verdict, extras, aside } = judgeSlot({ slot: 1, nodeId: "", tasks }, o);
  const ids = (ts: Task[]) => ts.map((t) => t.id).join(",");
  return `${verdict.kind} ${"task" in verdict ? verdict.task.id : ""}; extras [${ids(extras)}]; aside [${ids(aside)}]`;
}

describe("judgeSlot: a start-first replacement", () => {
  it.each<[string, Task[], JudgeOptions, string]>([
    ["the new task on its way: the old one is kept aside", [oldTask(), newTask()], { job: false }, "running new; extras []; aside [old]"],
    ["the new task runs: the old one is shut down", [oldTask(), newTask({ state: S.TASK_STATE_RUNNING })], { job: false }, "running new; extras [old]; aside []"],
    ["the new task failed first: the slot goes back to the old one, the new one is shut down", [oldTask(), newTask({ state: S.TASK_STATE_FAILED })], { job: false }, "running old; extras [new]; aside []"],
    ["the new task's node failed: the slot goes back to the old one", [oldTask(), newTask()], { job: false, nodeFailure: down("n2") }, "running old; extras [new]; aside []"],
    ["the old task's node failed: it is shut down", [oldTask(), newTask()], { job: false, nodeFailure: down("n1") }, "running new; extras [old]; aside []"],
    ["both failed: the newest is replaced, the old one shut down", [oldTask({ state: S.TASK_STATE_FAILED }), newTask({ state: S.TASK_STATE_FAILED })], { job: false }, "replace new; extras [old]; aside []"],
    ["jobs have no start-first replacements: the older one is an extra", [oldTask(), newTask()], { job: true }, "running new; extras [old]; aside []"],
  ])("%s", (_, tasks, o, want) => {
    expect(judged(tasks, o)).toBe(want);
  });
});
