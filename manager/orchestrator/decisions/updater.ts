// Spec changes: whether a task is out of date with its service (dirty), and the updater that brings
// a service's slots up to date. Until the rolling updater exists, every dirty task is replaced at
// once, stop-first: the old task is shut down in the step that creates its replacement. A rolling
// updater implements the same TaskUpdater interface. Pure.
import type { Node, Service, Task } from "../../../proto/gen/objects.js";
import { TaskSpec } from "../../../proto/gen/specs.js";
import { EndpointSpec, TaskState } from "../../../proto/gen/types.js";
import { nodeMatchesPlacement } from "../../../scheduler/index.js";
import type { DecisionBuilder } from "./plan.js";
import type { ServiceInput } from "./service-input.js";
import type { Slot } from "./slots.js";
import { createTask } from "./task-actions.js";
import { isLive, observedState } from "./task-state.js";

/** A slot's current task: its live task, or the stopped one that holds the slot. */
export interface UpdateCandidate {
  slot: Slot;
  task: Task;
}

/** Brings a service's slots up to date with its spec. */
export interface TaskUpdater {
  readonly name: string;
  /** Adds to `b` the steps that replace dirty candidates (all, or the next batch of a rolling update). */
  update(input: ServiceInput, candidates: readonly UpdateCandidate[], b: DecisionBuilder): void;
}

const bytes = (spec: TaskSpec): Buffer => Buffer.from(TaskSpec.encode(spec).finish());
const endpointBytes = (spec: EndpointSpec | undefined): Buffer => Buffer.from(EndpointSpec.encode(EndpointSpec.fromPartial(spec ?? {})).finish());

/**
 * Whether `task` is out of date with `service`: never when made from the service's spec version;
 * otherwise when its encoded TaskSpec differs (a change of `force_update` included) or its published
 * endpoint does. Placement-only changes the task's node still satisfies do not count, nor do
 * pull-option changes for a task that already pulled its image (READY to RUNNING).
 */
export function isTaskDirty(service: Service, task: Task, node: Node | undefined): boolean {
  if ((task.specVersion?.index ?? 0) === (service.specVersion?.index ?? 0)) return false;
  const want = TaskSpec.fromPartial(service.spec?.task ?? {});
  const have = TaskSpec.fromPartial(task.spec ?? {});
  const state = observedState(task);
  const pulled = isLive(task) && state >= TaskState.TASK_STATE_READY && state <= TaskState.TASK_STATE_RUNNING;
  if (pulled && want.runtime?.$case === "container" && have.runtime?.$case === "container") {
    want.runtime.container.pullOptions = have.runtime.container.pullOptions;
  }
  if (task.endpoint && !endpointBytes(service.spec?.endpoint).equals(endpointBytes(task.endpoint.spec))) return true;
  if (bytes(want).equals(bytes(have))) return false;
  const placementOnly = bytes({ ...want, placement: undefined }).equals(bytes({ ...have, placement: undefined }));
  return !(placementOnly && node !== undefined && nodeMatchesPlacement(node, want.placement));
}

/** Replaces every dirty task at once, each in its own slot (and node), stop-first. */
export const immediateUpdater: TaskUpdater = {
  name: "immediate",
  update(input, candidates, b) {
    for (const { slot, task } of candidates) {
      if (b.touches(task)) continue;
      const node = task.nodeId ? input.node(task.nodeId) : undefined;
      if (!isTaskDirty(input.service, task, node)) continue;
      createTask(input, b, { slot: slot.slot, nodeId: slot.nodeId }, isLive(task) ? task : undefined);
    }
  },
};
