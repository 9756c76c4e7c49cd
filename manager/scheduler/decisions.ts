// How a scheduling decision changes a task, given the task as it is now in the store. Pure.
import { Task } from "../../proto/gen/objects.js";
import { TaskState, TaskStatus } from "../../proto/gen/types.js";

export const ASSIGNED_MESSAGE = "scheduler assigned task to node";

/** The task assigned to `nodeId`: ASSIGNED, the scheduler's message, `nowMs`, no err; other status fields kept. */
export function assignedTask(cur: Task, nodeId: string, nowMs: number): Task {
  const next = Task.fromPartial(cur);
  next.meta = cur.meta;
  next.nodeId = nodeId;
  next.status = TaskStatus.fromPartial({ ...cur.status, state: TaskState.TASK_STATE_ASSIGNED, message: ASSIGNED_MESSAGE, timestampUnixMs: nowMs, err: "" });
  return next;
}

/** The task with `reason` as its err, or null when it already says so (no write). */
export function unschedulableTask(cur: Task, reason: string): Task | null {
  if (cur.status?.err === reason) return null;
  const next = Task.fromPartial(cur);
  next.meta = cur.meta;
  next.status = TaskStatus.fromPartial({ ...cur.status, err: reason });
  return next;
}
