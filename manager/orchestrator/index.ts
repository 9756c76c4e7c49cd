// The orchestrators: leader components that turn services into tasks and keep them so (replicated,
// global and job orchestrators with the restart supervisor's rules and the updater), delete tasks
// no longer needed (task reaper) and evict tasks from nodes that no longer fit them (constraint
// enforcer). Decisions are pure functions of a store snapshot (decisions/); runners commit them.
import type { MemoryStore } from "../store/index.js";
import type { LeaderComponent } from "../leader-components.js";
import { newObjectId } from "../controlapi/index.js";
import { systemClock, type OrchestratorClock } from "./clock.js";
import { ConstraintEnforcer } from "./constraint-enforcer.js";
import { rollingUpdater, type TaskUpdater } from "./decisions/updater.js";
import { globalMode, jobMode, replicatedMode } from "./modes.js";
import { ServiceOrchestrator, type OrchestratorMode } from "./service-orchestrator.js";
import { TaskReaper } from "./task-reaper.js";

export interface OrchestratorOptions {
  /** Milliseconds since the Unix epoch. Default Date.now. */
  now?: () => number;
  /** Ids of new tasks. Default: the control API's (25 base-36 characters of 128 random bits). */
  newId?: () => string;
  /** Default setTimeout (unref'd). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  /** Replaces dirty tasks; default: the rolling updater (the service's update and rollback configs). */
  updater?: TaskUpdater;
  /** A write failed for another reason than a lost race (it is retried a second later), or a watch failed. */
  onError?: (component: string, e: Error) => void;
}

/**
 * The orchestrators' leader components, in start order: "replicated-orchestrator",
 * "global-orchestrator", "job-orchestrator", "task-reaper", "constraint-enforcer".
 */
export function createOrchestrators(store: MemoryStore, opts: OrchestratorOptions = {}): LeaderComponent[] {
  const clock: OrchestratorClock = {
    now: opts.now ?? systemClock.now,
    setTimer: opts.setTimer ?? systemClock.setTimer,
    clearTimer: opts.clearTimer ?? systemClock.clearTimer,
  };
  const newId = opts.newId ?? newObjectId;
  const updater = opts.updater ?? rollingUpdater;
  const onError = (name: string) => (e: Error) => opts.onError?.(name, e);
  const service = (mode: OrchestratorMode) => new ServiceOrchestrator(store, mode, { clock, newId, onError: onError(mode.name) });
  return [
    service(replicatedMode(updater)),
    service(globalMode(updater)),
    service(jobMode()),
    new TaskReaper(store, { clock, onError: onError("task-reaper") }),
    new ConstraintEnforcer(store, { clock, onError: onError("constraint-enforcer") }),
  ];
}

export { systemClock, Alarm, type OrchestratorClock } from "./clock.js";
export { ServiceOrchestrator, type OrchestratorMode, type ServiceOrchestratorOptions } from "./service-orchestrator.js";
export { replicatedMode, globalMode, jobMode } from "./modes.js";
export { TaskReaper, REAPER_BATCH_MS, REAPER_MAX_BATCH, type TaskReaperOptions } from "./task-reaper.js";
export { ConstraintEnforcer, type ConstraintEnforcerOptions } from "./constraint-enforcer.js";
export { commitSteps, type CommitOptions, type CommitResult } from "./commit.js";
export { newTask, CREATED_MESSAGE, type NewTaskOptions } from "./decisions/task-factory.js";
export { reconcileReplicated, chooseSlotsToRemove, type TakenSlot } from "./decisions/replicated.js";
export { reconcileGlobal } from "./decisions/global.js";
export { reconcileReplicatedJob, reconcileGlobalJob, jobLimits, jobIteration } from "./decisions/jobs.js";
export { nodeEligibility, type NodeEligibility } from "./decisions/eligibility.js";
export { isTaskDirty } from "./decisions/dirty.js";
export { rollingUpdater, type TaskUpdater, type UpdateCandidate } from "./decisions/updater.js";
export { updateRules, rulesOf, DEFAULT_MONITOR_MS, type UpdateRules } from "./decisions/update-config.js";
export { isUpdating, isRollingBack, awaitsRunningTasks, UPDATE_IN_PROGRESS, UPDATE_COMPLETED, ROLLBACK_COMPLETED } from "./decisions/update-status.js";
export { restartRules, mayRestart, restartsBefore, DEFAULT_RESTART_DELAY_MS, type RestartRules } from "./decisions/restart.js";
export { gateOpensAtMs, tasksBefore, OLD_TASK_TIMEOUT_MS, type NodeLookup } from "./decisions/gate.js";
export { tasksToReap, historyLimit, isStopped, reapServiceless, DEFAULT_TASK_HISTORY } from "./decisions/reaper.js";
export { tasksToReject, rejectStep, CONSTRAINTS_ERR, RESOURCES_ERR, REJECTED_MESSAGE, type Rejection } from "./decisions/enforcer.js";
export type { Decision, Step, TaskChange, ServiceChange } from "./decisions/plan.js";
export type { ServiceInput } from "./decisions/service-input.js";
