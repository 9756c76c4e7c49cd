// The restart supervisor's rules, shared by the orchestrators: whether a task that ended may be
// replaced (its restart policy's condition and attempts, counted from the slot's history in the
// store), and when the replacement may start (the policy's delay, measured from the moment the
// old task stopped). Pure.
import type { Task } from "../../../proto/gen/objects.js";
import { RestartCondition, TaskState } from "../../../proto/gen/types.js";
import { byCreation, createdAtMs, endedAtMs, hasEnded, isBeingRemoved, observedState, type NodeFailure } from "./task-state.js";

/** The restart delay when the policy sets none (SwarmKit's default). */
export const DEFAULT_RESTART_DELAY_MS = 5_000;

/** A task's restart policy with its defaults filled in. */
export interface RestartRules {
  condition: RestartCondition;
  delayMs: number;
  /** 0 = unlimited. */
  maxAttempts: number;
  /** 0 = every restart counts, however old. */
  windowMs: number;
}

export function restartRules(t: Task): RestartRules {
  const p = t.spec?.restart;
  return {
    condition: p?.condition ?? RestartCondition.RESTART_CONDITION_ANY,
    delayMs: Math.max(0, p?.delayMs ?? DEFAULT_RESTART_DELAY_MS),
    maxAttempts: p?.maxAttempts ?? 0,
    windowMs: Math.max(0, p?.windowMs ?? 0),
  };
}

/**
 * Why a live task is stopped and replaced: it exited on its own (its restart policy decides), it
 * was lost (SHUTDOWN or ORPHANED without being asked), or its node failed. Only "exited" is subject
 * to the policy's condition and attempts; all wait for the policy's delay except a drained node's.
 */
export type ReplaceCause = "exited" | "lost" | NodeFailure;

const sameSpecVersion = (a: Task, b: Task): boolean => (a.specVersion?.index ?? 0) === (b.specVersion?.index ?? 0);

/**
 * Restarts of `t`'s slot with `t`'s spec version before `t` stopped: the tasks that preceded it there
 * (each one's end caused a restart), only those that stopped within the window if the policy has one.
 * Counted from the store, so the count survives a change of leader.
 */
export function restartsBefore(t: Task, slotTasks: readonly Task[], windowMs: number): number {
  const end = endedAtMs(t);
  let n = 0;
  for (const p of slotTasks) {
    if (p.id === t.id || isBeingRemoved(p) || !sameSpecVersion(p, t) || byCreation(p, t) >= 0) continue;
    if (windowMs > 0 && endedAtMs(p) <= end - windowMs) continue;
    n++;
  }
  return n;
}

/**
 * Whether a task that exited on its own may be replaced: NONE never; ON_FAILURE (and any job
 * task, for which ANY means ON_FAILURE) not after COMPLETE; and only while the slot's restarts are
 * below max attempts.
 */
export function mayRestart(t: Task, slotTasks: readonly Task[], job: boolean): boolean {
  const rules = restartRules(t);
  if (rules.condition === RestartCondition.RESTART_CONDITION_NONE) return false;
  const completed = observedState(t) === TaskState.TASK_STATE_COMPLETE;
  if (completed && (job || rules.condition === RestartCondition.RESTART_CONDITION_ON_FAILURE)) return false;
  return rules.maxAttempts === 0 || restartsBefore(t, slotTasks, rules.windowMs) < rules.maxAttempts;
}

/** The replacement's desired state now and when it may start. */
export interface ReplacementStart {
  /** RUNNING when the delay is already over, else READY (prepare, do not start). */
  desiredState: TaskState;
  startAtMs: number;
}

/**
 * When the replacement of `old`, stopped for `cause`, may start: the policy's delay after `old`
 * stopped (when it ended, or now if it did not end by itself); at once for a drained node.
 */
export function replacementStart(old: Task, cause: ReplaceCause, nowMs: number): ReplacementStart {
  const delay = cause === "drained" ? 0 : restartRules(old).delayMs;
  const stoppedAt = hasEnded(old) ? Math.min(endedAtMs(old), nowMs) : nowMs;
  const startAtMs = stoppedAt + delay;
  return { desiredState: startAtMs <= nowMs ? TaskState.TASK_STATE_RUNNING : TaskState.TASK_STATE_READY, startAtMs };
}

/**
 * When a READY-gated task may start, from the store alone (after a change of leader as well):
 * its restart delay after its predecessor in the slot ended, or after its own creation when the
 * predecessor did not end by then (its node failed) or there is none.
 */
export function gateOpensAtMs(t: Task, slotTasks: readonly Task[]): number {
  let predecessor: Task | undefined;
  for (const p of slotTasks) {
    if (p.id === t.id || byCreation(p, t) >= 0) continue;
    if (!predecessor || byCreation(p, predecessor) > 0) predecessor = p;
  }
  const created = createdAtMs(t);
  const base = predecessor && hasEnded(predecessor) ? Math.min(created, endedAtMs(predecessor)) : created;
  return base + restartRules(t).delayMs;
}
