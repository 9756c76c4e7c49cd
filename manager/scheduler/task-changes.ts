// What a task change means to the scheduler: a task to (re)consider, resources freed on a node (a
// reason to retry unschedulable tasks), or a failure of a service version on a node. Pure.
import type { Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { holdsNode, type TaskFailure } from "../../scheduler/index.js";
import type { StoreEvent } from "../store/index.js";

/** A task the scheduler places: PENDING, still wanted (desired RUNNING, or READY until its start gate opens). */
export function needsPlacement(t: Task): boolean {
  return t.status?.state === TaskState.TASK_STATE_PENDING && t.desiredState <= TaskState.TASK_STATE_RUNNING;
}

export interface TaskChange {
  /** The task to consider at the next pass. */
  consider?: string;
  /** The task no longer waits for placement. */
  settled?: string;
  /** A node got room back: unschedulable tasks deserve another try. */
  freed?: boolean;
  /** The task failed on its node (state moved to FAILED or REJECTED). */
  failed?: Omit<TaskFailure, "atMs">;
}

/**
 * Reads one task event. `parked` says whether the task was left unschedulable: an update that keeps
 * such a task pending on the same node (its own err written back) is no reason to try it again.
 */
export function taskChange(e: StoreEvent, parked: (id: string) => boolean): TaskChange {
  if (e.type === "commit") return {};
  if (e.type === "remove") {
    const old = e.old as unknown as Task;
    return { settled: old.id, freed: holdsNode(old) };
  }
  const t = e.object as unknown as Task;
  const change: TaskChange = {};
  if (e.type === "update") {
    const old = e.old as unknown as Task;
    change.freed = holdsNode(old) && !holdsNode(t);
    const state = t.status?.state;
    if (t.nodeId !== "" && state !== old.status?.state && (state === TaskState.TASK_STATE_FAILED || state === TaskState.TASK_STATE_REJECTED)) {
      change.failed = { nodeId: t.nodeId, serviceId: t.serviceId, specVersion: t.specVersion?.index ?? 0 };
    }
    if (needsPlacement(t) && parked(t.id) && needsPlacement(old) && old.nodeId === t.nodeId) return change;
  }
  if (needsPlacement(t)) change.consider = t.id;
  else change.settled = t.id;
  return change;
}
