// The steps the orchestrators' decisions are made of: create a task in a slot, replace a slot's
// tasks (the old ones shut down and the new one created in one step, the new one gated at READY
// until they stopped and its restart delay, if any, is over: gate.ts), stop tasks, and start gated
// tasks whose gate opened. Pure.
import type { Task } from "../../../proto/gen/objects.js";
import { TaskState } from "../../../proto/gen/types.js";
import { gateOpensAtMs, tasksBefore } from "./gate.js";
import { desire, step, type DecisionBuilder } from "./plan.js";
import type { ServiceInput } from "./service-input.js";
import type { Slot } from "./slots.js";
import { newTask } from "./task-factory.js";
import { hasEnded, isLive } from "./task-state.js";

/** Where a new task goes: its slot number and, in global modes, its node. */
export interface Place {
  slot: number;
  nodeId: string;
}

function make(input: ServiceInput, place: Place, desiredState: TaskState): Task {
  return newTask(input.service, {
    id: input.newId(),
    slot: place.slot,
    ...(place.nodeId ? { nodeId: place.nodeId } : {}),
    nowMs: input.nowMs,
    desiredState,
    cluster: input.cluster,
  });
}

const specVersionOf = (input: ServiceInput): number => input.service.specVersion?.index ?? 0;

/** A new task in `place`, desired RUNNING at once (a new slot, a start-first replacement). */
export function createTask(input: ServiceInput, b: DecisionBuilder, place: Place): void {
  b.add(step(input.service.id, { specVersion: specVersionOf(input), create: [make(input, place, TaskState.TASK_STATE_RUNNING)] }));
}

/**
 * Replaces the tasks of `slot`: shuts the live ones of `stop` down and, in the same step, creates
 * the new task in `place` — desired RUNNING if its gate is open already (the old tasks stopped and
 * the restart delay, if any, is over), else READY, with a wake-up when the gate opens at the latest.
 */
export function replaceTask(input: ServiceInput, b: DecisionBuilder, slot: Slot, place: Place, stop: readonly Task[]): void {
  const task = make(input, place, TaskState.TASK_STATE_READY);
  const opensAt = gateOpensAtMs(task, slot.tasks, input.node);
  if (opensAt <= input.nowMs) task.desiredState = TaskState.TASK_STATE_RUNNING;
  else b.wakeAt(opensAt);
  const change = stop.filter(isLive).map((t) => ({ task: t, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
  b.add(step(input.service.id, { specVersion: specVersionOf(input), create: [task], change }));
}

/** Shuts tasks down (no replacement). */
export function stopTasks(input: ServiceInput, b: DecisionBuilder, tasks: readonly Task[]): void {
  for (const t of tasks) b.add(desire(input.service.id, [t], TaskState.TASK_STATE_SHUTDOWN));
}

/**
 * Starts the READY-gated tasks of `slots` whose gate opened (desired RUNNING) and asks to be woken
 * when the next one's opens at the latest (a task before it stopping earlier is a task event, which
 * makes the service be decided again). Tasks some step already changes are left alone.
 */
export function releaseGates(input: ServiceInput, b: DecisionBuilder, slots: Iterable<Slot>): void {
  for (const slot of slots) {
    for (const t of slot.tasks) {
      if (t.desiredState !== TaskState.TASK_STATE_READY || hasEnded(t) || b.touches(t)) continue;
      const opensAt = gateOpensAtMs(t, tasksBefore(t, slot.tasks), input.node);
      if (opensAt <= input.nowMs) b.add(desire(input.service.id, [t], TaskState.TASK_STATE_RUNNING));
      else b.wakeAt(opensAt);
    }
  }
}
