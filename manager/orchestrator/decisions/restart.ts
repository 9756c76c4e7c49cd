// The restart supervisor's rules, shared by the orchestrators: a task's restart policy with its
// defaults, and whether a task that ended may be replaced (its condition and attempts, counted from
// the slot's history in the store). When the replacement may start (the policy's delay, once the
// old task stopped) is gate.ts's. Pure.
import type { Task } from "../../../proto/gen/objects.js";
import { RestartCondition, TaskState } from "../../../proto/gen/types.js";
import { byCreation, endedAtMs, isBeingRemoved, observedState } from "./task-state.js";

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
