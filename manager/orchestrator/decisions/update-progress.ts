// Where a rolling update (or rollback) stands, read from the store alone so that a new leader reads
// the same: each slot's update task and whether it is starting, watched, done or failed. Pure.
//
// A slot's update task is its first task of the service's spec version after its newest task of
// another version (a slot new since the spec changed, from scaling up, has none; a slot that ran
// this version before, as a rollback restores it, is judged by its latest tasks only). No clock is
// compared: a new leader whose clock differs recognises the same tasks. It counts as failed when:
// - it does not run within `startWithinMs` (the monitor window; 5 s when that is 0) of when it could
//   start (its creation; for a restart replacement made during the update, the end of its restart
//   delay) — the bound on every wait: a task that never becomes healthy fails the update instead of
//   hanging it (the failure action applies then; should it run later, it no longer counts);
// - it ends on its own (FAILED, REJECTED, COMPLETE) before that bound plus the monitor window has
//   passed. The store keeps only a task's latest state, so once ended, when it reached RUNNING is
//   not known: this bound is the latest its watch could have lasted.
// Ended as SHUTDOWN or ORPHANED, or stopped by the orchestrators (its node failed), it is not a failure.
import type { Task } from "../../../proto/gen/objects.js";
import { TaskState } from "../../../proto/gen/types.js";
import { gateOpensAtMs } from "./restart.js";
import type { Slot } from "./slots.js";
import { byCreation, createdAtMs, endedAtMs, exitedOnItsOwn, hasEnded, isLive, observedState } from "./task-state.js";
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
 * When `t` could start running: its creation; for a restart replacement (of a task that ended on its
 * own or was lost before `t` was made, or whose node failed), the end of its restart delay.
 */
export function mayStartAtMs(t: Task, slotTasks: readonly Task[], nodeFailed: (t: Task) => boolean): number {
  const created = createdAtMs(t);
  const before = slotTasks.filter((p) => p.id !== t.id && byCreation(p, t) < 0).at(-1);
  if (!before) return created;
  const restarted = exitedOnItsOwn(before) || (hasEnded(before) ? endedAtMs(before) < created : nodeFailed(before));
  return restarted ? Math.max(created, gateOpensAtMs(t, slotTasks)) : created;
}

const duration = (ms: number): string => (ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`);
const stateWord = (t: Task): string => (TaskState[observedState(t)] ?? "").replace("TASK_STATE_", "").toLowerCase();

/** The outcome of update task `t` of a slot whose tasks are `slotTasks`, at `nowMs`. */
export function judgeUpdateTask(t: Task, slotTasks: readonly Task[], rules: UpdateRules, nowMs: number, nodeFailed: (t: Task) => boolean): SlotUpdate {
  const deadline = mayStartAtMs(t, slotTasks, nodeFailed) + rules.startWithinMs;
  const outcome = { task: t, failedAtMs: null, failure: "", settledAtMs: null, watchedUntilMs: null };
  const timedOut = { ...outcome, failedAtMs: deadline, failure: `not running within ${duration(rules.startWithinMs)}`, settledAtMs: deadline };
  if (hasEnded(t)) {
    const end = endedAtMs(t);
    if (!exitedOnItsOwn(t) || end > deadline + rules.monitorMs) return { ...outcome, settledAtMs: end };
    const detail = t.status?.err || t.status?.message || "";
    return { ...outcome, failedAtMs: end, failure: `${stateWord(t)}${detail ? `: ${detail}` : ""}`, settledAtMs: end };
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
