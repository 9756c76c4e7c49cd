// Where a rolling update (or rollback) stands, read from the store alone so that a new leader reads
// the same: each slot's update task and whether it is starting, watched, done or failed. Pure.
//
// A slot's update task is its first task of the service's spec version after its newest task of
// another version (a slot new since the spec changed, from scaling up, has none; a slot that ran
// this version before, as a rollback restores it, is judged by its latest tasks only). No clock is
// compared: a new leader whose clock differs recognises the same tasks. It counts as failed when:
// - it does not run within `startWithinMs` (update-config.ts: the monitor window, at least a minute,
//   plus the time its health check may take to decide) of when it could
//   start — when its gate opened (gate.ts: a stop-first replacement once the old task stopped, at the
//   latest a minute after its creation; a restart replacement made during the update once its
//   restart delay is over), or its creation (a start-first replacement) — the bound on every wait: a
//   task that never becomes healthy fails the update instead of hanging it (the failure action
//   applies then; should it run later, it no longer counts). A task waiting at its gate is starting:
//   it holds its parallelism unit, and its bound does not run yet, so an old task slow to stop (up
//   to its stop grace period) does not fail the update;
// - it ends on its own (FAILED, REJECTED, COMPLETE) before that bound plus the monitor window has
//   passed. The store keeps only a task's latest state, so once ended, when it reached RUNNING is
//   not known: this bound is the latest its watch could have lasted.
// Ended as SHUTDOWN or ORPHANED, or stopped by the orchestrators (its node failed), it is not a failure.
import type { Task } from "../../../proto/gen/objects.js";
import { TaskState, UpdateOrder } from "../../../proto/gen/types.js";
import { gateOpensAtMs, tasksBefore, type NodeLookup } from "./gate.js";
import type { Slot } from "./slots.js";
import { createdAtMs, endedAtMs, exitedOnItsOwn, hasEnded, isLive, nodeFailure, observedState } from "./task-state.js";
import type { UpdateRules } from "./update-config.js";

/** What became of a slot's update task, as of now. */
export interface SlotUpdate {
  task: Task;
  /** When it counted as failed; null if it has not. */
  failedAtMs: number | null;
  /** Why it failed ("" if it has not). */
  failure: string;
  /** When it stopped holding a parallelism unit (it runs, ended, or failed); null while starting. */
  settledAtMs: number | null;
  /** Until when it is watched (start bound, or monitor window); null once its outcome is final. */
  watchedUntilMs: number | null;
}

const specVersionOf = (t: Task): number => t.specVersion?.index ?? 0;

/** The slot's update task for `specVersion`: its first task of that version after its newest task of another version. */
export function updateTaskOf(slot: Slot, specVersion: number): Task | undefined {
  let lastOther = -1;
  slot.tasks.forEach((t, i) => {
    if (specVersionOf(t) !== specVersion) lastOther = i;
  });
  return lastOther < 0 ? undefined : slot.tasks[lastOther + 1];
}

/**
 * Whether `t` replaced `p` after `p` failed — it ended on its own, or was lost before `t` was made,
 * or its node can no longer run it — rather than beside it (a start-first replacement).
 */
function replacedAfterFailure(t: Task, p: Task, node: NodeLookup): boolean {
  if (exitedOnItsOwn(p)) return true;
  if (hasEnded(p)) return endedAtMs(p) < createdAtMs(t);
  return p.nodeId !== "" && nodeFailure(node(p.nodeId)) !== null;
}

/**
 * When `t` could start running: when its gate opened (gate.ts: the tasks before it in the slot
 * stopped, and its restart delay if one applies), or opens at the latest while it waits; its
 * creation if it has no predecessor, or if it is a start-first replacement (created desired RUNNING
 * beside the old task) rather than the replacement of a task that failed.
 */
export function mayStartAtMs(t: Task, slotTasks: readonly Task[], node: NodeLookup, startFirst: boolean): number {
  const before = tasksBefore(t, slotTasks);
  const p = before.at(-1);
  if (!p || (startFirst && !replacedAfterFailure(t, p, node))) return createdAtMs(t);
  return gateOpensAtMs(t, before, node);
}

const duration = (ms: number): string => (ms >= 1_000 ? `${Math.round(ms / 100) / 10}s` : `${ms}ms`);
const stateWord = (t: Task): string => (TaskState[observedState(t)] ?? "").replace("TASK_STATE_", "").toLowerCase();
/** "pending: no suitable node (…)": the task's state with its error or message. */
const stateOf = (t: Task): string => {
  const detail = t.status?.err || t.status?.message || "";
  return `${stateWord(t)}${detail ? `: ${detail}` : ""}`;
};

/** The outcome of update task `t` of a slot whose tasks are `slotTasks`, at `nowMs`. */
export function judgeUpdateTask(t: Task, slotTasks: readonly Task[], rules: UpdateRules, nowMs: number, node: NodeLookup): SlotUpdate {
  const startFirst = rules.order === UpdateOrder.UPDATE_ORDER_START_FIRST;
  const deadline = mayStartAtMs(t, slotTasks, node, startFirst) + rules.startWithinMs;
  const outcome = { task: t, failedAtMs: null, failure: "", settledAtMs: null, watchedUntilMs: null };
  const timedOut = { ...outcome, failedAtMs: deadline, failure: `not running within ${duration(rules.startWithinMs)} (${stateOf(t)})`, settledAtMs: deadline };
  if (hasEnded(t)) {
    const end = endedAtMs(t);
    if (!exitedOnItsOwn(t) || end > deadline + rules.monitorMs) return { ...outcome, settledAtMs: end };
    return { ...outcome, failedAtMs: end, failure: stateOf(t), settledAtMs: end };
  }
  if (!isLive(t)) return { ...outcome, settledAtMs: Math.min(t.meta?.updatedAtUnixMs || nowMs, deadline) };
  if (observedState(t) === TaskState.TASK_STATE_RUNNING) {
    // The status's time: when it reached RUNNING, or later if the agent rewrote its status since.
    const runningAt = t.status?.appliedAtUnixMs || t.status?.timestampUnixMs || 0;
    const watchEnd = runningAt + rules.monitorMs;
    return { ...outcome, settledAtMs: Math.min(runningAt, deadline), watchedUntilMs: watchEnd > nowMs ? watchEnd : null };
  }
  return nowMs >= deadline ? timedOut : { ...outcome, watchedUntilMs: deadline };
}
