// The replicated orchestrator's decision for one service: slots 1..replicas each hold a task.
// A slot is taken while it has a live task (desired RUNNING or below) or is held by a task that
// exited and may not restart. Stopped tasks are replaced per the restart policy, tasks on failed
// nodes are moved, missing slots get new tasks, extra slots are removed (desired REMOVE) choosing
// non-running tasks first, then tasks on the nodes with most of the service's tasks. Dirty tasks
// go to the updater (rolling by default). Pure.
import type { Task } from "../../../proto/gen/objects.js";
import { TaskState } from "../../../proto/gen/types.js";
import { DecisionBuilder, desire, type Decision } from "./plan.js";
import type { ServiceInput } from "./service-input.js";
import { judgeSlot, slotsByNumber, type Slot, type SlotVerdict } from "./slots.js";
import { createTask, releaseGates, replaceTask, stopTasks } from "./task-actions.js";
import { nodeFailure, observedState } from "./task-state.js";
import { rollingUpdater, type TaskUpdater, type UpdateCandidate } from "./updater.js";

/** A taken slot and what it needs. */
export interface TakenSlot {
  slot: Slot;
  verdict: Exclude<SlotVerdict, { kind: "vacant" }>;
}

const runsNow = (s: TakenSlot): boolean => s.verdict.kind === "running" && observedState(s.verdict.task) === TaskState.TASK_STATE_RUNNING;

/**
 * The `count` slots to remove when scaling down: slots whose task is not running first (highest
 * slot number first), then, one at a time, the highest-numbered slot on the node that has the most
 * running slots left (ties: the smallest node id).
 */
export function chooseSlotsToRemove(slots: readonly TakenSlot[], count: number): TakenSlot[] {
  if (count <= 0) return [];
  const chosen = slots.filter((s) => !runsNow(s)).sort((a, b) => b.slot.slot - a.slot.slot).slice(0, count);
  const byNode = new Map<string, TakenSlot[]>();
  for (const s of slots.filter(runsNow).sort((a, b) => a.slot.slot - b.slot.slot)) {
    const nodeId = s.verdict.task.nodeId;
    byNode.set(nodeId, [...(byNode.get(nodeId) ?? []), s]);
  }
  const nodes = [...byNode.keys()].sort();
  while (chosen.length < count) {
    let busiest: TakenSlot[] = [];
    for (const nodeId of nodes) if (byNode.get(nodeId)!.length > busiest.length) busiest = byNode.get(nodeId)!;
    const last = busiest.pop();
    if (!last) break;
    chosen.push(last);
  }
  return chosen;
}

export function reconcileReplicated(input: ServiceInput, updater: TaskUpdater = rollingUpdater): Decision {
  const mode = input.service.spec?.mode;
  const replicas = mode?.$case === "replicated" ? mode.replicated.replicas : 0;
  const b = new DecisionBuilder();
  const failureOf = (t: Task) => (t.nodeId ? nodeFailure(input.node(t.nodeId)) : null);

  const taken: (TakenSlot & { extras: Task[]; aside: Task[] })[] = [];
  for (const slot of slotsByNumber(input.tasks)) {
    const { verdict, extras, aside } = judgeSlot(slot, { job: false, nodeFailure: failureOf });
    if (verdict.kind !== "vacant") taken.push({ slot, verdict, extras, aside });
  }

  const removed = new Set(chooseSlotsToRemove(taken, taken.length - replicas));
  for (const s of removed) b.add(desire(input.service.id, s.slot.tasks, TaskState.TASK_STATE_REMOVE));
  const kept = taken.filter((s) => !removed.has(s));

  const candidates: UpdateCandidate[] = [];
  for (const { slot, verdict, extras, aside } of kept) {
    stopTasks(input, b, extras);
    if (verdict.kind === "replace") replaceTask(input, b, slot, { slot: slot.slot, nodeId: "" }, [verdict.task]);
    else if (verdict.kind === "retire") stopTasks(input, b, [verdict.task]);
    else candidates.push({ slot, task: verdict.task, aside });
  }
  updater.update(input, candidates, b);

  const used = new Set(kept.map((s) => s.slot.slot));
  let next = 1;
  for (let n = kept.length; n < replicas; n++) {
    while (used.has(next)) next++;
    used.add(next);
    createTask(input, b, { slot: next, nodeId: "" });
  }

  releaseGates(input, b, kept.map((s) => s.slot));
  return b.build();
}
