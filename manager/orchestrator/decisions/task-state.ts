// What the orchestrators read of a task and of its node: whether the task is wanted, whether and
// how it ended, when, the order of a slot's tasks, and whether its node can still run it. Pure.
import type { Node, Task } from "../../../proto/gen/objects.js";
import { NodeAvailability, NodeState, TaskState } from "../../../proto/gen/types.js";

/** The observed state (NEW when the task has no status yet). */
export function observedState(t: Task): TaskState {
  return t.status?.state ?? TaskState.TASK_STATE_NEW;
}

/** Wanted: desired state RUNNING or below (a READY-gated task included). */
export function isLive(t: Task): boolean {
  return t.desiredState <= TaskState.TASK_STATE_RUNNING;
}

/** Observed past RUNNING: the task no longer runs (COMPLETE, SHUTDOWN, FAILED, REJECTED, ORPHANED). */
export function hasEnded(t: Task): boolean {
  return observedState(t) > TaskState.TASK_STATE_RUNNING;
}

/**
 * Ended by itself: it completed, failed or was rejected (the constraint enforcer's rejections
 * included). SHUTDOWN and ORPHANED are stops someone asked for, or a node lost track of.
 */
export function exitedOnItsOwn(t: Task): boolean {
  const s = observedState(t);
  return s === TaskState.TASK_STATE_COMPLETE || s === TaskState.TASK_STATE_FAILED || s === TaskState.TASK_STATE_REJECTED;
}

/** Desired REMOVE: the task leaves its slot and is deleted once stopped. */
export function isBeingRemoved(t: Task): boolean {
  return t.desiredState >= TaskState.TASK_STATE_REMOVE;
}

/** When the task was created (the leader's clock, stamped by the store), else its status time. */
export function createdAtMs(t: Task): number {
  return t.meta?.createdAtUnixMs || t.status?.timestampUnixMs || 0;
}

/** The Raft index of the task's last change. */
export function versionIndex(t: Task): number {
  return t.meta?.version?.index ?? 0;
}

/**
 * Creation order, oldest first: creation time, then the Raft index of the last change, then id.
 * The tasks of one slot follow one another, so this is the order of the slot's history.
 */
export function byCreation(a: Task, b: Task): number {
  return createdAtMs(a) - createdAtMs(b) || versionIndex(a) - versionIndex(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * When a stopped task stopped: if it ended, when its status was committed (the manager's clock),
 * else when the reporter saw it; if it did not end (stopped on a down node), its last write.
 */
export function endedAtMs(t: Task): number {
  if (hasEnded(t)) return t.status?.appliedAtUnixMs || t.status?.timestampUnixMs || 0;
  return t.meta?.updatedAtUnixMs || t.status?.timestampUnixMs || 0;
}

/** Why a node can no longer run the tasks it has, or null when it can. */
export type NodeFailure = "removed" | "down" | "drained";

export function nodeFailure(node: Node | undefined): NodeFailure | null {
  if (!node) return "removed";
  if (node.status?.state === NodeState.NODE_STATE_DOWN) return "down";
  if (node.spec?.availability === NodeAvailability.NODE_AVAILABILITY_DRAIN) return "drained";
  return null;
}
