// The task reaper's decisions: which tasks to delete. Per slot (per node for global modes) the
// newest stopped tasks are kept as history, up to the cluster's retention limit (at least max
// attempts + 1 when the restart policy has max attempts, as restarts are counted from it), and the
// slot's newest task always (it may hold the slot, or record a job's completion). Tasks desired
// REMOVE go once stopped or if they were never assigned; so do the tasks of services that no
// longer exist. Order is by creation (time, then Raft index), never the wall clock alone. Pure.
import type { Cluster, Service, Task } from "../../../proto/gen/objects.js";
import { TaskState } from "../../../proto/gen/types.js";
import { byCreation, hasEnded, isBeingRemoved, isLive, observedState } from "./task-state.js";

/** Stopped tasks kept per slot when the cluster sets no limit (SwarmKit's default). */
export const DEFAULT_TASK_HISTORY = 5;

/** How many stopped tasks of one slot of `service` to keep (Infinity: all). */
export function historyLimit(cluster: Cluster | undefined, service: Service | undefined): number {
  const limit = cluster?.spec?.orchestration?.taskHistoryRetentionLimit ?? DEFAULT_TASK_HISTORY;
  if (limit < 0) return Infinity;
  const attempts = service?.spec?.task?.restart?.maxAttempts ?? 0;
  return attempts > 0 ? Math.max(limit, attempts + 1) : limit;
}

const neverAssigned = (t: Task): boolean => observedState(t) < TaskState.TASK_STATE_ASSIGNED;

/** Stopped for good: observed past RUNNING, or no longer wanted and never assigned to a node. */
export function isStopped(t: Task): boolean {
  return hasEnded(t) || (!isLive(t) && neverAssigned(t));
}

/**
 * The tasks of one slot (all of them, REMOVE ones included) to delete, oldest first. `service` is
 * undefined when it no longer exists (or is being deleted): then every task that ended or was
 * never assigned goes.
 */
export function tasksToReap(slotTasks: readonly Task[], service: Service | undefined, limit: number): Task[] {
  const ordered = [...slotTasks].sort(byCreation);
  if (!service || service.pendingDelete) return ordered.filter((t) => hasEnded(t) || neverAssigned(t));
  const out: Task[] = [];
  const history: Task[] = [];
  for (const t of ordered) {
    if (isBeingRemoved(t)) {
      if (isStopped(t)) out.push(t);
    } else if (isStopped(t)) {
      history.push(t);
    }
  }
  const newest = ordered.filter((t) => !isBeingRemoved(t)).at(-1);
  const keep = newest && history.at(-1) === newest ? Math.max(limit, 1) : limit;
  out.push(...history.slice(0, Math.max(0, history.length - keep)));
  return out.sort(byCreation);
}

/** Whether a task made outside the orchestrators (no service) is to be deleted: orphaned, or desired REMOVE and stopped. */
export function reapServiceless(t: Task): boolean {
  return observedState(t) === TaskState.TASK_STATE_ORPHANED || (isBeingRemoved(t) && isStopped(t));
}
