// Which task updates the service orchestrators must decide again for. Most task writes are the
// allocator, the scheduler and the agents moving a task forward toward RUNNING; a decision reads
// every task of the service, so deciding again for each of those writes costs O(tasks) per write
// and nothing changes. Pure.
import type { Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { isLive, observedState } from "./decisions/task-state.js";

/**
 * What a task update is to its service's orchestrator:
 * - "progress": a live task observed further on, not past RUNNING, nothing else a decision reads
 *   changed: nothing to decide;
 * - "placed": the same, and the task moved to a node (the scheduler's write): to decide only if that
 *   node cannot run tasks (drained, down or removed while the scheduler was choosing it);
 * - "reached-running": progress that reached RUNNING: matters only while the service is being
 *   updated (an updater waits for new tasks to run);
 * - "changed": anything else (it ended — a READY-gated replacement may be waiting for that —, its
 *   desired state changed, …): to decide.
 */
export type TaskUpdateKind = "progress" | "placed" | "reached-running" | "changed";

const index = (v: { index: number } | undefined): number => v?.index ?? 0;

/** Classifies the update of a stored task from `old` to `task` (see {@link TaskUpdateKind}). */
export function classifyTaskUpdate(old: Task, task: Task): TaskUpdateKind {
  const before = observedState(old);
  const after = observedState(task);
  const forward =
    isLive(task) &&
    task.desiredState === old.desiredState &&
    before <= after &&
    after <= TaskState.TASK_STATE_RUNNING &&
    task.serviceId === old.serviceId &&
    task.slot === old.slot &&
    index(task.specVersion) === index(old.specVersion) &&
    index(task.jobIteration) === index(old.jobIteration);
  if (!forward) return "changed";
  const placed = task.nodeId !== old.nodeId;
  const reachedRunning = after === TaskState.TASK_STATE_RUNNING && before < after;
  if (placed && reachedRunning) return "changed";
  if (placed) return old.nodeId === "" ? "placed" : "changed";
  return reachedRunning ? "reached-running" : "progress";
}
