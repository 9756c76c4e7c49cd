// Whether a task is out of date with its service's spec (dirty): what a rolling update replaces.
// Pure.
import type { Node, Service, Task } from "../../../proto/gen/objects.js";
import { TaskSpec } from "../../../proto/gen/specs.js";
import { EndpointSpec, TaskState } from "../../../proto/gen/types.js";
import { nodeMatchesPlacement } from "../../../scheduler/index.js";
import { isLive, observedState } from "./task-state.js";

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
