// The service's update status, written by the rolling updater's decisions: an update starts
// (UPDATING), completes (COMPLETED, ROLLBACK_COMPLETED), pauses (PAUSED, ROLLBACK_PAUSED) or rolls
// back (ROLLBACK_STARTED, the spec restored). Messages follow SwarmKit's, with the failure's reason
// added. Pure.
import type { Service } from "../../../proto/gen/objects.js";
import { UpdateFailureAction, UpdateState, type UpdateStatus } from "../../../proto/gen/types.js";
import { step, type Step } from "./plan.js";
import type { UpdateRules } from "./update-config.js";
import type { SlotUpdate } from "./update-progress.js";

export const UPDATE_IN_PROGRESS = "update in progress";
export const UPDATE_COMPLETED = "update completed";
export const ROLLBACK_COMPLETED = "rollback completed";

/** A step writing `updateStatus` (and restoring the previous spec with `rollback`), premised on the status seen. */
function statusStep(service: Service, updateStatus: UpdateStatus, rollback = false): Step {
  return step(service.id, { specVersion: service.specVersion?.index ?? 0, service: { seen: service.updateStatus, updateStatus, rollback } });
}

/** Whether the service's update (or rollback) is replacing tasks: UPDATING or ROLLBACK_STARTED. */
export function isUpdating(service: Service): boolean {
  const state = service.updateStatus?.state;
  return state === UpdateState.UPDATE_STATE_UPDATING || state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED;
}

/**
 * Whether the service's decision depends on its tasks reaching RUNNING: an update or rollback
 * replacing tasks, or paused (start-first replacements may still be on their way).
 */
export function awaitsRunningTasks(service: Service): boolean {
  const state = service.updateStatus?.state;
  return isUpdating(service) || state === UpdateState.UPDATE_STATE_PAUSED || state === UpdateState.UPDATE_STATE_ROLLBACK_PAUSED;
}

export function isRollingBack(service: Service): boolean {
  return service.updateStatus?.state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED;
}

/** UPDATING from now. */
export function startUpdate(service: Service, nowMs: number): Step {
  return statusStep(service, { state: UpdateState.UPDATE_STATE_UPDATING, startedAtUnixMs: nowMs, completedAtUnixMs: 0, message: UPDATE_IN_PROGRESS });
}

/** COMPLETED, or ROLLBACK_COMPLETED for a rollback. */
export function completeUpdate(service: Service, nowMs: number): Step {
  const rollback = isRollingBack(service);
  return statusStep(service, {
    state: rollback ? UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED : UpdateState.UPDATE_STATE_COMPLETED,
    startedAtUnixMs: service.updateStatus?.startedAtUnixMs ?? nowMs,
    completedAtUnixMs: nowMs,
    message: rollback ? ROLLBACK_COMPLETED : UPDATE_COMPLETED,
  });
}

/**
 * What the failure action does once too many slots failed, `first` being the earliest failure:
 * ROLLBACK (an update with a previous spec) restores the previous spec, ROLLBACK_STARTED from now;
 * otherwise the update pauses (PAUSED, or ROLLBACK_PAUSED for a rollback). CONTINUE is not an action.
 */
export function failUpdate(service: Service, rules: UpdateRules, first: SlotUpdate, nowMs: number): Step {
  const rollingBack = isRollingBack(service);
  const cause = `failure or early termination of task ${first.task.id}: ${first.failure}`;
  if (!rollingBack && rules.failureAction === UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK && service.previousSpec) {
    const message = `update rolled back due to ${cause}`;
    return statusStep(service, { state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED, startedAtUnixMs: nowMs, completedAtUnixMs: 0, message }, true);
  }
  const noPrevious = rules.failureAction === UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK ? " (no previous spec to roll back to)" : "";
  return statusStep(service, {
    state: rollingBack ? UpdateState.UPDATE_STATE_ROLLBACK_PAUSED : UpdateState.UPDATE_STATE_PAUSED,
    startedAtUnixMs: service.updateStatus?.startedAtUnixMs ?? nowMs,
    completedAtUnixMs: 0,
    message: `${rollingBack ? "rollback" : "update"} paused due to ${cause}${noPrevious}`,
  });
}
