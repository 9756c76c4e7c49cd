// AssignmentSet without a store: which task changes reach the agent, and when secrets and configs
// come and go (SwarmKit's manager/dispatcher/assignments.go rules).
import { describe, expect, it } from "vitest";
import { AssignmentChangeAction, type AssignmentChange } from "../../proto/gen/dispatcher.js";
import { Config, Secret, Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { AssignmentSet, dependenciesOf, type DependencyLookup } from "./assignments.js";
import { makeTask, type TaskFixture } from "./test-support.js";

const lookup: DependencyLookup = {
  secret: (id) => (id.startsWith("missing") ? undefined : Secret.fromPartial({ id, spec: { data: Buffer.from(`value of ${id}`) } })),
  config: (id) => Config.fromPartial({ id, spec: { data: Buffer.from(`data of ${id}`) } }),
};

const task = (f: Partial<TaskFixture> & { id: string }): Task => makeTask({ nodeId: "n1", ...f });

/** A change as "update task/t1", "remove secret/s1". */
function show(c: AssignmentChange): string {
  const item = c.assignment!.item!;
  const id = item.$case === "task" ? item.task.id : item.$case === "secret" ? item.secret.id : item.config.id;
  return `${c.action === AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_UPDATE ? "update" : "remove"} ${item.$case}/${id}`;
}

const take = (set: AssignmentSet): string[] => set.takeChanges().map(show);

describe("AssignmentSet", () => {
  it("takes tasks from ASSIGNED on, with their secrets and configs, dependencies first", () => {
    const set = new AssignmentSet("n1");
    expect(set.addOrUpdateTask(task({ id: "t0", state: TaskState.TASK_STATE_PENDING }), lookup)).toBe(false);
    expect(set.addOrUpdateTask(task({ id: "t1", secrets: ["s1"], configs: ["c1"] }), lookup)).toBe(true);
    expect(set.addOrUpdateTask(task({ id: "t2", secrets: ["s1", "s2"] }), lookup)).toBe(true);
    expect(take(set)).toEqual(["update secret/s1", "update config/c1", "update secret/s2", "update task/t1", "update task/t2"]);
    expect(set.dependencies()).toEqual(["config/c1", "secret/s1", "secret/s2"]);
    expect(set.has("t0")).toBe(false);
  });

  it("sends a secret with its value once however many tasks use it", () => {
    const set = new AssignmentSet("n1");
    set.addOrUpdateTask(task({ id: "t1", secrets: ["s1"] }), lookup);
    const first = set.takeChanges();
    const secret = first.find((c) => c.assignment?.item?.$case === "secret")!.assignment!.item;
    expect(secret?.$case === "secret" && Buffer.from(secret.secret.spec!.data).toString()).toBe("value of s1");
    set.addOrUpdateTask(task({ id: "t2", secrets: ["s1"] }), lookup);
    expect(take(set)).toEqual(["update task/t2"]);
  });

  it("does not echo the agent's own status reports, but resends what the orchestrator or scheduler changed", () => {
    const set = new AssignmentSet("n1");
    set.addOrUpdateTask(task({ id: "t1" }), lookup);
    take(set);
    // Still ASSIGNED: the scheduler's writes go out even when only the status changed.
    const reassigned = task({ id: "t1" });
    reassigned.status!.message = "assigned again";
    expect(set.addOrUpdateTask(reassigned, lookup)).toBe(true);
    take(set);
    expect(set.addOrUpdateTask(task({ id: "t1", state: TaskState.TASK_STATE_RUNNING }), lookup)).toBe(false);
    expect(set.pending).toBe(0);
    expect(set.addOrUpdateTask(task({ id: "t1", state: TaskState.TASK_STATE_RUNNING, desired: TaskState.TASK_STATE_SHUTDOWN }), lookup)).toBe(true);
    const changes = set.takeChanges();
    expect(changes.map(show)).toEqual(["update task/t1"]);
    const sent = changes[0]!.assignment!.item;
    expect(sent?.$case === "task" && sent.task.desiredState).toBe(TaskState.TASK_STATE_SHUTDOWN);
  });

  it("releases a task's secrets and configs once it stopped, removing those no task uses", () => {
    const set = new AssignmentSet("n1");
    set.addOrUpdateTask(task({ id: "t1", secrets: ["s1", "s2"], configs: ["c1"] }), lookup);
    set.addOrUpdateTask(task({ id: "t2", secrets: ["s1"] }), lookup);
    take(set);
    // The agent reports t1 FAILED: a status-only change, so t1 is not resent, but s2 and c1 go.
    expect(set.addOrUpdateTask(task({ id: "t1", secrets: ["s1", "s2"], configs: ["c1"], state: TaskState.TASK_STATE_FAILED }), lookup)).toBe(true);
    expect(take(set)).toEqual(["remove secret/s2", "remove config/c1"]);
    expect(set.dependencies()).toEqual(["secret/s1"]);
    expect(set.has("t1")).toBe(true);
    // Deleted from the store: the task goes, and with it s1's last user.
    expect(set.removeTask("t2")).toBe(true);
    expect(take(set)).toEqual(["remove task/t2", "remove secret/s1"]);
    expect(set.removeTask("t1")).toBe(true);
    expect(take(set)).toEqual(["remove task/t1"]);
    expect(set.removeTask("t1")).toBe(false);
    expect(set.dependencies()).toEqual([]);
  });

  it("a task first seen past RUNNING brings no dependencies", () => {
    const set = new AssignmentSet("n1");
    set.addOrUpdateTask(task({ id: "t1", secrets: ["s1"], state: TaskState.TASK_STATE_COMPLETE }), lookup);
    expect(take(set)).toEqual(["update task/t1"]);
    expect(set.dependencies()).toEqual([]);
  });

  it("skips a secret the store does not have, and never removes it", () => {
    const set = new AssignmentSet("n1");
    set.addOrUpdateTask(task({ id: "t1", secrets: ["missing1"] }), lookup);
    expect(take(set)).toEqual(["update task/t1"]);
    set.removeTask("t1");
    expect(take(set)).toEqual(["remove task/t1"]);
  });

  it("keeps only the last change of an item between two messages", () => {
    const set = new AssignmentSet("n1");
    set.addOrUpdateTask(task({ id: "t1", secrets: ["s1"] }), lookup);
    set.removeTask("t1");
    expect(take(set)).toEqual(["remove task/t1", "remove secret/s1"]);
  });

  it("names a container's secrets and configs", () => {
    expect(dependenciesOf(task({ id: "t1", secrets: ["s1"], configs: ["c1", "c2"] }))).toEqual([
      { kind: "secret", id: "s1" },
      { kind: "config", id: "c1" },
      { kind: "config", id: "c2" },
    ]);
    expect(dependenciesOf(Task.fromPartial({ id: "t2" }))).toEqual([]);
  });
});
