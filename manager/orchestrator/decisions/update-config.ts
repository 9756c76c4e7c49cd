// The settings a rolling update or a rollback runs with, SwarmKit's defaults filled in: the spec's
// update config; for a rollback, the rollback config of the spec being rolled back from (the one
// just deployed, now the previous spec). Pure.
import type { Service } from "../../../proto/gen/objects.js";
import { UpdateFailureAction, UpdateOrder, type UpdateConfig } from "../../../proto/gen/types.js";

/** The monitor window when the config sets none, and the start bound when it sets 0. */
export const DEFAULT_MONITOR_MS = 5_000;

export interface UpdateRules {
  /** Slots replaced at a time; 0 = all at once. */
  parallelism: number;
  /** Wait after a slot's new task runs (or fails) before its parallelism unit takes the next slot. */
  delayMs: number;
  /** PAUSE, CONTINUE or (updates only) ROLLBACK. */
  failureAction: UpdateFailureAction;
  /** How long a new task that reached RUNNING is watched; 0 = not watched. */
  monitorMs: number;
  /** How long a new task may take to reach RUNNING before it counts as failed: the monitor window, or 5 s when it is 0. */
  startWithinMs: number;
  maxFailureRatio: number;
  order: UpdateOrder;
}

const KNOWN_ACTIONS = new Set([UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE, UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE, UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK]);

/** `config` with defaults: absent = parallelism 1, delay 0, pause, monitor 5 s, ratio 0, stop-first. */
export function rulesOf(config: UpdateConfig | undefined, rollback: boolean): UpdateRules {
  const monitorMs = Math.max(0, config?.monitorMs ?? DEFAULT_MONITOR_MS);
  let failureAction = config?.failureAction ?? UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE;
  // A rollback is never rolled back; an unknown action pauses.
  if (!KNOWN_ACTIONS.has(failureAction) || (rollback && failureAction === UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK)) {
    failureAction = UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE;
  }
  return {
    parallelism: config ? Math.max(0, config.parallelism) : 1,
    delayMs: Math.max(0, config?.delayMs ?? 0),
    failureAction,
    monitorMs,
    startWithinMs: monitorMs > 0 ? monitorMs : DEFAULT_MONITOR_MS,
    maxFailureRatio: Math.max(0, config?.maxFailureRatio ?? 0),
    order: config?.order === UpdateOrder.UPDATE_ORDER_START_FIRST ? UpdateOrder.UPDATE_ORDER_START_FIRST : UpdateOrder.UPDATE_ORDER_STOP_FIRST,
  };
}

/** The rules of the service's update, or of its rollback (`rollback`). */
export function updateRules(service: Service, rollback: boolean): UpdateRules {
  if (!rollback) return rulesOf(service.spec?.update, false);
  return rulesOf(service.previousSpec ? service.previousSpec.rollback : service.spec?.rollback, true);
}
