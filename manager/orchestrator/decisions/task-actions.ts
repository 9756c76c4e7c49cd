// The steps the orchestrators' decisions are made of: create a task in a slot, stop a task and
// replace it (gated at READY for the restart delay), stop tasks, and start gated tasks whose delay
// is over. Pure.
import type { Task } from "../../../proto/gen/objects.js";
import { TaskState } from "../../../proto/gen/types.js";
import { desire, step, type DecisionBuilder } from "./plan.js";
import { gateOpensAtMs, replacementStart, type ReplaceCause } from "./restart.js";
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

/** A new task in `place`, desired RUNNING; the live tasks of `stop` are shut down in the same step. */
export function createTask(input: ServiceInput, b: DecisionBuilder, place: Place, stop: readonly Task[] = []): void {
  const change = stop.filter(isLive).map((task) => ({ task, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
  b.add(step(input.service.id, { specVersion: specVersionOf(input), create: [make(input, place, TaskState.TASK_STATE_RUNNING)], change }));
}

/** Shuts `old` down and creates its replacement in `place`, held at READY until the restart delay is over. */
export function replaceTask(input: ServiceInput, b: DecisionBuilder, place: Place, old: Task, cause: ReplaceCause): void {
  const start = replacementStart(old, cause, input.nowMs);
  const task = make(input, place, start.desiredState);
  b.add(step(input.service.id, { specVersion: specVersionOf(input), create: [task], change: [{ task: old, desiredState: TaskState.TASK_STATE_SHUTDOWN }] }));
  if (start.desiredState === TaskState.TASK_STATE_READY) b.wakeAt(start.startAtMs);
}

/** Shuts tasks down (no replacement). */
export function stopTasks(input: ServiceInput, b: DecisionBuilder, tasks: readonly Task[]): void {
  for (const t of tasks) b.add(desire(input.service.id, [t], TaskState.TASK_STATE_SHUTDOWN));
}

/**
 * Starts the READY-gated tasks of `slots` whose restart delay is over (desired RUNNING) and asks to
 * be woken when the next one's is. Tasks some step already changes are left alone.
 */
export function releaseGates(input: ServiceInput, b: DecisionBuilder, slots: Iterable<Slot>): void {
  for (const slot of slots) {
    for (const t of slot.tasks) {
      if (t.desiredState !== TaskState.TASK_STATE_READY || hasEnded(t) || b.touches(t)) continue;
      const opensAt = gateOpensAtMs(t, slot.tasks);
      if (opensAt <= input.nowMs) b.add(desire(input.service.id, [t], TaskState.TASK_STATE_RUNNING));
      else b.wakeAt(opensAt);
    }
  }
}
