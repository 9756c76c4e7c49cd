// The settings a rolling update or a rollback runs with, SwarmKit's defaults filled in: the spec's
// update config; for a rollback, the rollback config of the spec being rolled back from (the one
// just deployed, now the previous spec). Pure.
import type { Service } from "../../../proto/gen/objects.js";
import { UpdateFailureAction, UpdateOrder, type HealthConfig, type UpdateConfig } from "../../../proto/gen/types.js";

/** The monitor window when the config sets none. */
export const DEFAULT_MONITOR_MS = 5_000;
/**
 * How long a new task may take to reach RUNNING at least (scheduling, a node reconnecting after a
 * leader change, an image pull, creating and starting the container), whatever the monitor window.
 */
export const MIN_START_BOUND_MS = 60_000;

/** The engine's health check defaults (docker's): what a field left at 0 means. */
const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3 };

export interface UpdateRules {
  /** Slots replaced at a time; 0 = all at once. */
  parallelism: number;
  /** Wait after a slot's new task runs (or fails) before its parallelism unit takes the next slot. */
  delayMs: number;
  /** PAUSE, CONTINUE or (updates only) ROLLBACK. */
  failureAction: UpdateFailureAction;
  /** How long a new task that reached RUNNING is watched; 0 = not watched. */
  monitorMs: number;
  /**
   * How long a new task may take to reach RUNNING (healthy) before it counts as failed: the monitor
   * window, at least {@link MIN_START_BOUND_MS}, plus the time the spec's health check may take to
   * decide (its start period, then `retries` checks).
   */
  startWithinMs: number;
  maxFailureRatio: number;
  order: UpdateOrder;
}

const KNOWN_ACTIONS = new Set([UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE, UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE, UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK]);

/**
 * How long the health check `h` may take to call a started container healthy or unhealthy: 0 when
 * the spec disables it (NONE) or says nothing of it (the image's own check, if any, is unknown here);
 * an empty `test` with timings set is the image's check run with them.
 */
export function healthDecisionMs(h: HealthConfig | undefined): number {
  if (!h || h.test[0] === "NONE") return 0;
  if (h.test.length === 0 && !h.intervalMs && !h.timeoutMs && !h.retries && !h.startPeriodMs) return 0;
  const interval = h.intervalMs || HEALTH_DEFAULTS.intervalMs;
  const timeout = h.timeoutMs || HEALTH_DEFAULTS.timeoutMs;
  const retries = h.retries || HEALTH_DEFAULTS.retries;
  return h.startPeriodMs + retries * (interval + timeout);
}

/**
 * `config` with defaults: absent = parallelism 1, delay 0, pause, monitor 5 s, ratio 0, stop-first;
 * `healthMs` is how long the tasks' health check may take to decide ({@link healthDecisionMs}).
 */
export function rulesOf(config: UpdateConfig | undefined, rollback: boolean, healthMs = 0): UpdateRules {
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
    startWithinMs: Math.max(monitorMs, MIN_START_BOUND_MS) + healthMs,
    maxFailureRatio: Math.max(0, config?.maxFailureRatio ?? 0),
    order: config?.order === UpdateOrder.UPDATE_ORDER_START_FIRST ? UpdateOrder.UPDATE_ORDER_START_FIRST : UpdateOrder.UPDATE_ORDER_STOP_FIRST,
  };
}

/** The rules of the service's update, or of its rollback (`rollback`). */
export function updateRules(service: Service, rollback: boolean): UpdateRules {
  const runtime = service.spec?.task?.runtime;
  const healthMs = healthDecisionMs(runtime?.$case === "container" ? runtime.container.healthcheck : undefined);
  if (!rollback) return rulesOf(service.spec?.update, false, healthMs);
  return rulesOf(service.previousSpec ? service.previousSpec.rollback : service.spec?.rollback, true, healthMs);
}
