// The agent's reading of Assignments messages (pure).
import { describe, expect, it } from "vitest";
import { AssignmentChangeAction, AssignmentsType, type AssignmentsMessage } from "../../proto/gen/dispatcher.js";
import { Config, Task } from "../../proto/gen/objects.js";
import { assignmentsEvent, isGap } from "./assignments.js";

const msg = (type: AssignmentsType, appliesTo: string, resultsIn: string): AssignmentsMessage => ({ type, appliesTo, resultsIn, changes: [] });
const COMPLETE = AssignmentsType.ASSIGNMENTS_TYPE_COMPLETE;
const INCREMENTAL = AssignmentsType.ASSIGNMENTS_TYPE_INCREMENTAL;

describe("assignments", () => {
  it("a complete set always applies; an incremental message only on top of the result before it", () => {
    expect(isGap(null, msg(COMPLETE, "", "1.1"))).toBe(false);
    expect(isGap("1.4", msg(COMPLETE, "1.4", "1.5"))).toBe(false);
    expect(isGap("1.1", msg(INCREMENTAL, "1.1", "1.2"))).toBe(false);
    expect(isGap("1.1", msg(INCREMENTAL, "1.2", "1.3"))).toBe(true);
    expect(isGap(null, msg(INCREMENTAL, "", "1.1"))).toBe(true);
  });

  it("sorts changes into what to have and what to drop", () => {
    const ev = assignmentsEvent({
      ...msg(INCREMENTAL, "1.1", "1.2"),
      changes: [
        { assignment: { item: { $case: "config", config: Config.fromPartial({ id: "c1" }) } }, action: AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_UPDATE },
        { assignment: { item: { $case: "task", task: Task.fromPartial({ id: "t1" }) } }, action: AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_UPDATE },
        { assignment: { item: { $case: "task", task: Task.fromPartial({ id: "t0" }) } }, action: AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_REMOVE },
        { assignment: undefined, action: AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_UPDATE },
      ],
    });
    expect(ev.type).toBe("incremental");
    expect(ev.tasks.map((t) => t.id)).toEqual(["t1"]);
    expect(ev.removedTasks).toEqual(["t0"]);
    expect(ev.configs.map((c) => c.id)).toEqual(["c1"]);
    expect([ev.secrets, ev.removedSecrets, ev.removedConfigs]).toEqual([[], [], []]);
  });
});
