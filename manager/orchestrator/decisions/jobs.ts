// The job orchestrator's decisions. A job task runs to completion; its restart policy's ANY means
// ON_FAILURE. Each service update starts a new iteration (`job_status.job_iteration`): tasks of
// older iterations that have not stopped get desired REMOVE.
// - replicated job: total_completions successes, at most max_concurrent at a time, each in its own
//   slot 1..total_completions; new tasks per pass = min(max_concurrent − active,
//   total_completions − completed − active − held).
// - global job: one run per eligible node per iteration.
// Job tasks are desired RUNNING (SwarmKit uses COMPLETE): the allocator and scheduler take tasks
// desired RUNNING or below, and the agent runs either to completion alike. Pure.
import type { Service, Task } from "../../../proto/gen/objects.js";
import { TaskState } from "../../../proto/gen/types.js";
import { DecisionBuilder, desire, type Decision } from "./plan.js";
import type { ServiceInput } from "./service-input.js";
import { judgeSlot, slotsByNode, slotsByNumber, type Slot } from "./slots.js";
import { createTask, releaseGates, replaceTask, stopTasks } from "./task-actions.js";
import { isBeingRemoved, isLive, nodeFailure, observedState } from "./task-state.js";
import { nodeEligibility, nodeIdsToVisit } from "./eligibility.js";

/** A replicated job's limits with their defaults: max_concurrent 0 = 1; total_completions 0 = max_concurrent. */
export function jobLimits(service: Service): { maxConcurrent: number; totalCompletions: number } {
  const mode = service.spec?.mode;
  const job = mode?.$case === "replicatedJob" ? mode.replicatedJob : undefined;
  const maxConcurrent = job?.maxConcurrent || 1;
  return { maxConcurrent, totalCompletions: job?.totalCompletions || maxConcurrent };
}

/** The service's current job iteration. */
export function jobIteration(service: Service): number {
  return service.jobStatus?.jobIteration?.index ?? 0;
}

const iterationOf = (t: Task): number => t.jobIteration?.index ?? 0;
const completed = (slot: Slot): boolean => slot.tasks.some((t) => observedState(t) === TaskState.TASK_STATE_COMPLETE);

/** Marks older iterations' unstopped tasks REMOVE; returns the current iteration's tasks. */
function currentIteration(input: ServiceInput, b: DecisionBuilder): Task[] {
  const iteration = jobIteration(input.service);
  const current: Task[] = [];
  for (const t of input.tasks) {
    if (iterationOf(t) === iteration) current.push(t);
    else if (observedState(t) <= TaskState.TASK_STATE_RUNNING && !isBeingRemoved(t)) b.add(desire(input.service.id, [t], TaskState.TASK_STATE_REMOVE));
  }
  return current;
}

export function reconcileReplicatedJob(input: ServiceInput): Decision {
  const b = new DecisionBuilder();
  const { maxConcurrent, totalCompletions } = jobLimits(input.service);
  const slots = slotsByNumber(currentIteration(input, b));
  const used = new Set<number>();
  let done = 0;
  let active = 0;
  let held = 0;
  for (const slot of slots) {
    if (completed(slot)) {
      done++;
      used.add(slot.slot);
      continue;
    }
    const { verdict, extras } = judgeSlot(slot, { job: true, nodeFailure: (t) => (t.nodeId ? nodeFailure(input.node(t.nodeId)) : null) });
    stopTasks(input, b, extras);
    if (verdict.kind === "vacant") continue;
    used.add(slot.slot);
    if (verdict.kind === "replace") replaceTask(input, b, slot, { slot: slot.slot, nodeId: "" }, [verdict.task]);
    if (verdict.kind === "retire") stopTasks(input, b, [verdict.task]);
    if (verdict.kind === "running" || verdict.kind === "replace") active++;
    else held++;
  }
  const wanted = Math.min(maxConcurrent - active, totalCompletions - done - active - held);
  let next = 1;
  for (let n = 0; n < wanted; n++) {
    while (used.has(next)) next++;
    used.add(next);
    createTask(input, b, { slot: next, nodeId: "" });
  }
  releaseGates(input, b, slots);
  return b.build();
}

export function reconcileGlobalJob(input: ServiceInput): Decision {
  const b = new DecisionBuilder();
  const placement = input.service.spec?.task?.placement;
  const slots = slotsByNode(currentIteration(input, b));
  const kept: Slot[] = [];
  for (const nodeId of nodeIdsToVisit(input.nodes, slots.keys())) {
    const slot = slots.get(nodeId) ?? { slot: 0, nodeId, tasks: [] };
    if (completed(slot)) continue;
    const eligibility = nodeEligibility(nodeId ? input.node(nodeId) : undefined, placement);
    if (eligibility === "stop") {
      stopTasks(input, b, slot.tasks.filter(isLive));
      continue;
    }
    kept.push(slot);
    const { verdict, extras } = judgeSlot(slot, { job: true });
    stopTasks(input, b, extras);
    const place = { slot: 0, nodeId };
    if (verdict.kind === "replace" && eligibility === "run") replaceTask(input, b, slot, place, [verdict.task]);
    else if (verdict.kind === "replace" || verdict.kind === "retire") stopTasks(input, b, [verdict.task]);
    else if (verdict.kind === "vacant" && eligibility === "run") createTask(input, b, place);
  }
  releaseGates(input, b, kept);
  return b.build();
}
