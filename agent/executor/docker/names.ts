// How a task's container is named and labelled, as Docker Swarm does: the labels are how an agent finds
// its containers again after a restart, and the only thing that tells them apart from everyone else's.
import type { Task } from "../../../proto/gen/objects.js";
import { serviceNameOf, taskName } from "../../../proto/naming.js";

/** The labels the executor puts on every container it creates. */
export const LABEL = {
  nodeId: "com.docker.swarm.node.id",
  serviceId: "com.docker.swarm.service.id",
  serviceName: "com.docker.swarm.service.name",
  taskId: "com.docker.swarm.task.id",
  taskName: "com.docker.swarm.task.name",
} as const;

/**
 * The container's name: the task's name (`SERVICE.SLOT.TASKID`, `SERVICE.NODEID.TASKID` for global
 * tasks), with this node's id when the task has none.
 */
export function containerName(task: Task, nodeId: string): string {
  return taskName(task, nodeId);
}

/** The spec's container labels plus the swarm labels (which win over a spec label of the same key). */
export function containerLabels(task: Task, nodeId: string): Record<string, string> {
  const spec = task.spec?.runtime?.$case === "container" ? task.spec.runtime.container.labels : {};
  return {
    ...spec,
    [LABEL.nodeId]: nodeId,
    [LABEL.serviceId]: task.serviceId,
    [LABEL.serviceName]: serviceNameOf(task),
    [LABEL.taskId]: task.id,
    [LABEL.taskName]: containerName(task, nodeId),
  };
}

/** The `label` filter values that select this node's containers (optionally: of one task). */
export function ownedFilter(nodeId: string, taskId?: string): string[] {
  const f = [`${LABEL.nodeId}=${nodeId}`];
  if (taskId !== undefined) f.push(`${LABEL.taskId}=${taskId}`);
  return f;
}
