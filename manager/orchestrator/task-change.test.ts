import { describe, expect, it } from "vitest";
import { Task } from "../../proto/gen/objects.js";
import { TaskState as S } from "../../proto/gen/types.js";
import { classifyTaskUpdate } from "./task-change.js";
import { makeTask } from "./test-support.js";

const at = (t: Task, state: S, change: Partial<Task> = {}): Task => Task.fromPartial({ ...t, ...change, status: { ...t.status, state } });

describe("classifyTaskUpdate", () => {
  const pending = makeTask({ id: "t1", slot: 1, state: S.TASK_STATE_PENDING });
  const assigned = at(pending, S.TASK_STATE_ASSIGNED, { nodeId: "n1" });

  it("calls a live task's steps toward RUNNING progress, its placement 'placed', reaching RUNNING 'reached-running'", () => {
    expect(classifyTaskUpdate(makeTask({ id: "t1", slot: 1, state: S.TASK_STATE_NEW }), pending)).toBe("progress");
    expect(classifyTaskUpdate(pending, assigned)).toBe("placed");
    expect(classifyTaskUpdate(assigned, at(assigned, S.TASK_STATE_ACCEPTED))).toBe("progress");
    expect(classifyTaskUpdate(at(assigned, S.TASK_STATE_PREPARING), at(assigned, S.TASK_STATE_STARTING))).toBe("progress");
    expect(classifyTaskUpdate(at(assigned, S.TASK_STATE_STARTING), at(assigned, S.TASK_STATE_RUNNING))).toBe("reached-running");
    // A READY-gated replacement preparing is progress too.
    const gated = at(assigned, S.TASK_STATE_ACCEPTED, { desiredState: S.TASK_STATE_READY });
    expect(classifyTaskUpdate(gated, at(gated, S.TASK_STATE_READY))).toBe("progress");
    // The same state written again (a new status message) changes nothing.
    const running = at(assigned, S.TASK_STATE_RUNNING);
    expect(classifyTaskUpdate(running, Task.fromPartial({ ...running, status: { ...running.status, message: "again" } }))).toBe("progress");
  });

  it("calls every other update 'changed'", () => {
    const running = at(assigned, S.TASK_STATE_RUNNING);
    expect(classifyTaskUpdate(running, at(running, S.TASK_STATE_FAILED))).toBe("changed");
    expect(classifyTaskUpdate(running, at(running, S.TASK_STATE_COMPLETE))).toBe("changed");
    expect(classifyTaskUpdate(assigned, at(assigned, S.TASK_STATE_REJECTED))).toBe("changed");
    expect(classifyTaskUpdate(running, at(running, S.TASK_STATE_RUNNING, { desiredState: S.TASK_STATE_SHUTDOWN }))).toBe("changed");
    expect(classifyTaskUpdate(running, at(running, S.TASK_STATE_STARTING))).toBe("changed");
    // The end of a task shut down on request: a READY-gated replacement waits for it.
    const shutDown = at(running, S.TASK_STATE_RUNNING, { desiredState: S.TASK_STATE_SHUTDOWN });
    expect(classifyTaskUpdate(shutDown, at(shutDown, S.TASK_STATE_SHUTDOWN))).toBe("changed");
    // Progress of a task no longer wanted (desired SHUTDOWN) is left to its own rules: changed.
    const stopping = at(assigned, S.TASK_STATE_STARTING, { desiredState: S.TASK_STATE_SHUTDOWN });
    expect(classifyTaskUpdate(stopping, at(stopping, S.TASK_STATE_RUNNING))).toBe("changed");
    // Placed and running in one write, or moved between nodes.
    expect(classifyTaskUpdate(pending, at(pending, S.TASK_STATE_RUNNING, { nodeId: "n1" }))).toBe("changed");
    expect(classifyTaskUpdate(assigned, at(assigned, S.TASK_STATE_ACCEPTED, { nodeId: "n2" }))).toBe("changed");
    // Fields a decision reads.
    expect(classifyTaskUpdate(assigned, at(assigned, S.TASK_STATE_ACCEPTED, { slot: 2 }))).toBe("changed");
    expect(classifyTaskUpdate(assigned, at(assigned, S.TASK_STATE_ACCEPTED, { specVersion: { index: 2 } }))).toBe("changed");
    expect(classifyTaskUpdate(assigned, at(assigned, S.TASK_STATE_ACCEPTED, { serviceId: "other" }))).toBe("changed");
    expect(classifyTaskUpdate(assigned, at(assigned, S.TASK_STATE_ACCEPTED, { jobIteration: { index: 3 } }))).toBe("changed");
  });
});
