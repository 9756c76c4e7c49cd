// The rolling updater: brings a service's slots up to date with its spec, a few at a time, and
// records how it goes in the service's update status. A pure decision, made again on every change
// of the service or its tasks and at the times it asks for; everything it reads is in the store
// (the update status, the tasks' spec versions, creation order, states and their times), so a new
// leader continues an update where it was.
//
// - No update status (a new spec) and dirty slots: UPDATING from now; tasks are replaced from the
//   next decision on (the status says an update runs before any task is replaced).
// - UPDATING / ROLLBACK_STARTED: dirty slots not yet tried are replaced, in slot (node) order, while
//   fewer than `parallelism` slots are busy — their new task not running yet (waiting at its gate
//   included; bounded, see update-progress.ts), or running, ended or failed less than `delay` ago.
//   Stop-first: the old task is shut down in the step that creates the new one, which is gated at
//   READY until the old one stopped (its node DOWN or removed, or a minute passed: gate.ts);
//   start-first: the new one runs at once, the old one is shut down once the new one runs
//   (slots.ts); if the new one fails first, it is shut down and the old one keeps the slot. When
//   failed slots / slots tried > max failure ratio, the failure action applies (update-status.ts).
//   When no slot is left to try, none is starting and every new task's monitor window is over:
//   COMPLETED (ROLLBACK_COMPLETED).
// - PAUSED / ROLLBACK_PAUSED: no task is replaced; start-first replacements already on their way
//   finish or fail as above. COMPLETED / ROLLBACK_COMPLETED: nothing, until a slot becomes dirty
//   again without a new spec (a task kept through a placement-only change whose node no longer
//   fits): UPDATING again, as for a new spec. Restarts and scaling go on in
//   every state, with the current spec. A new spec (UpdateService clears the status) starts over.
import type { Node, Task } from "../../../proto/gen/objects.js";
import { UpdateFailureAction, UpdateOrder, UpdateState } from "../../../proto/gen/types.js";
import { isTaskDirty } from "./dirty.js";
import type { DecisionBuilder } from "./plan.js";
import type { ServiceInput } from "./service-input.js";
import { slotsByNode, slotsByNumber, type Slot } from "./slots.js";
import { createTask, replaceTask, stopTasks } from "./task-actions.js";
import { updateRules, type UpdateRules } from "./update-config.js";
import { judgeUpdateTask, updateTaskOf, type SlotUpdate } from "./update-progress.js";
import { completeUpdate, failUpdate, isUpdating, startUpdate } from "./update-status.js";

/** A slot's current task (its live task, or the stopped one that holds the slot) and the older tasks kept beside it. */
export interface UpdateCandidate {
  slot: Slot;
  task: Task;
  /** Older live tasks kept while `task`, their start-first replacement, is on its way. */
  aside: readonly Task[];
}

/** Brings a service's slots up to date with its spec. */
export interface TaskUpdater {
  readonly name: string;
  /** Adds to `b` the steps that replace dirty candidates (all, or the next batch of a rolling update) and record the update's status. */
  update(input: ServiceInput, candidates: readonly UpdateCandidate[], b: DecisionBuilder): void;
}

const slotKey = (s: Slot): string => `${s.slot}/${s.nodeId}`;

const nodeOf = (input: ServiceInput, t: Task): Node | undefined => (t.nodeId ? input.node(t.nodeId) : undefined);

/** Each tried slot's update task and its outcome, by slot key. */
function progressOf(input: ServiceInput, rules: UpdateRules): Map<string, SlotUpdate> {
  const global = input.service.spec?.mode?.$case === "global";
  const slots = global ? [...slotsByNode(input.tasks).values()] : slotsByNumber(input.tasks);
  const specVersion = input.service.specVersion?.index ?? 0;
  const out = new Map<string, SlotUpdate>();
  for (const slot of slots) {
    const task = updateTaskOf(slot, specVersion);
    if (task) out.set(slotKey(slot), judgeUpdateTask(task, slot.tasks, rules, input.nowMs, input.node));
  }
  return out;
}

/**
 * A start-first replacement overtaken by a rollback (or a new spec that restores the old one): the
 * new task is out of date and an older one kept beside it is not. Keeps the newest clean one and
 * shuts the others down; false when the candidate is not such a slot.
 */
function fallBack(input: ServiceInput, c: UpdateCandidate, b: DecisionBuilder): boolean {
  const clean = c.aside.filter((t) => !isTaskDirty(input.service, t, nodeOf(input, t)));
  const keep = clean.at(-1);
  if (!keep || !isTaskDirty(input.service, c.task, nodeOf(input, c.task))) return false;
  stopTasks(input, b, [...c.aside, c.task].filter((t) => t !== keep));
  return true;
}

/**
 * Replaces candidate `c` with a task of the current spec: start-first, the new task desired RUNNING
 * (the old tasks stay until it runs); stop-first, the old tasks shut down and the new task gated at
 * READY in the same step, started once they stopped (task-actions.ts, gate.ts).
 */
function replace(input: ServiceInput, rules: UpdateRules, c: UpdateCandidate, b: DecisionBuilder): void {
  const place = { slot: c.slot.slot, nodeId: c.slot.nodeId };
  if (rules.order === UpdateOrder.UPDATE_ORDER_START_FIRST) createTask(input, b, place);
  else replaceTask(input, b, c.slot, place, [...c.aside, c.task]);
}

/**
 * Start-first slots whose new task (this update's) did not run in time: the new task is shut down
 * and the slot goes back to the old one (one that ended is handled in slots.ts). Waits for the others.
 */
function settleStartFirst(input: ServiceInput, candidates: readonly UpdateCandidate[], progress: Map<string, SlotUpdate>, b: DecisionBuilder): void {
  for (const c of candidates) {
    const p = progress.get(slotKey(c.slot));
    if (c.aside.length === 0 || p?.task.id !== c.task.id || b.touches(c.task)) continue;
    if (p.failedAtMs !== null) stopTasks(input, b, [c.task]);
    else if (p.watchedUntilMs !== null) b.wakeAt(p.watchedUntilMs);
  }
}

const byFailure = (a: SlotUpdate, b: SlotUpdate): number => a.failedAtMs! - b.failedAtMs! || (a.task.id < b.task.id ? -1 : 1);

/** An update or rollback replacing tasks: the failure action, the next slots, or completion. */
function roll(input: ServiceInput, candidates: readonly UpdateCandidate[], rules: UpdateRules, progress: Map<string, SlotUpdate>, b: DecisionBuilder): void {
  const now = input.nowMs;
  const failed = [...progress.values()].filter((p) => p.failedAtMs !== null).sort(byFailure);
  if (failed.length > 0 && failed.length / progress.size > rules.maxFailureRatio && rules.failureAction !== UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE) {
    b.add(failUpdate(input.service, rules, failed[0]!, now));
    return;
  }

  const todo: UpdateCandidate[] = [];
  let settling = false;
  for (const c of candidates) {
    if (progress.has(slotKey(c.slot))) continue;
    if (b.touches(c.task) || fallBack(input, c, b)) settling = true;
    else if (isTaskDirty(input.service, c.task, nodeOf(input, c.task))) todo.push(c);
  }

  let busy = 0;
  let nextFree: number | null = null;
  for (const p of progress.values()) {
    if (p.watchedUntilMs !== null) b.wakeAt(p.watchedUntilMs);
    if (p.settledAtMs === null) busy++;
    else if (p.settledAtMs + rules.delayMs > now) {
      busy++;
      nextFree = Math.min(nextFree ?? Infinity, p.settledAtMs + rules.delayMs);
    }
  }
  const room = rules.parallelism === 0 ? todo.length : Math.max(0, rules.parallelism - busy);
  for (const c of todo.slice(0, room)) replace(input, rules, c, b);
  if (todo.length > room && nextFree !== null) b.wakeAt(nextFree);

  const watching = [...progress.values()].some((p) => p.watchedUntilMs !== null);
  if (todo.length === 0 && !settling && !watching) b.add(completeUpdate(input.service, now));
}

/** Replaces dirty slots a batch at a time, as the service's update (or rollback) config says. */
export const rollingUpdater: TaskUpdater = {
  name: "rolling",
  update(input, candidates, b) {
    const state = input.service.updateStatus?.state ?? UpdateState.UPDATE_STATE_UNKNOWN;
    const settled = state === UpdateState.UPDATE_STATE_COMPLETED || state === UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED;
    if (state === UpdateState.UPDATE_STATE_UNKNOWN || settled) {
      if (candidates.some((c) => isTaskDirty(input.service, c.task, nodeOf(input, c.task)))) b.add(startUpdate(input.service, input.nowMs));
      return;
    }
    const rollback = state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED || state === UpdateState.UPDATE_STATE_ROLLBACK_PAUSED;
    const rules = updateRules(input.service, rollback);
    const progress = progressOf(input, rules);
    settleStartFirst(input, candidates, progress, b);
    if (isUpdating(input.service)) roll(input, candidates, rules, progress, b);
  },
};
