// Names derived from objects, spelled one way for managers, agents and the CLI (SwarmKit's naming
// package): a task is SERVICE.SLOT.TASKID, or SERVICE.NODEID.TASKID for global tasks (slot 0).
import type { Task } from "./gen/objects.js";

/** The task's service name: the service's annotations name, else its id. */
export function serviceNameOf(task: Task): string {
  return task.serviceAnnotations?.name || task.serviceId;
}

/** `SERVICE.SLOT.TASKID`, or `SERVICE.NODEID.TASKID` for a global task (its node id, else `nodeId`). */
export function taskName(task: Task, nodeId = ""): string {
  const middle = task.slot > 0 ? String(task.slot) : task.nodeId || nodeId;
  return `${serviceNameOf(task)}.${middle}.${task.id}`;
}
