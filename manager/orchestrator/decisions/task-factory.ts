// Makes a service's new task: a copy of the service's task template, its spec version, slot (or
// node, for global modes), annotations and endpoint, observed NEW. Pure: id and time are inputs.
import { Task, type Cluster, type Service } from "../../../proto/gen/objects.js";
import { TaskSpec } from "../../../proto/gen/specs.js";
import { Annotations, Endpoint, TaskState } from "../../../proto/gen/types.js";

export const CREATED_MESSAGE = "created";

export interface NewTaskOptions {
  id: string;
  /** 1..N for replicated services and replicated jobs; 0 for global modes. */
  slot: number;
  /** Global modes: the node the task is for (the scheduler only confirms it). */
  nodeId?: string;
  nowMs: number;
  /** RUNNING (default), or READY to hold the start until its gate opens (gate.ts). */
  desiredState?: TaskState;
  /** For the cluster's default log driver, used when the spec names none. */
  cluster?: Cluster | undefined;
}

/** A new task of `service`, observed NEW. */
export function newTask(service: Service, o: NewTaskOptions): Task {
  const spec = TaskSpec.fromPartial(service.spec?.task ?? {});
  const logDriver = spec.logDriver ?? o.cluster?.spec?.taskDefaults?.logDriver;
  return Task.fromPartial({
    id: o.id,
    spec,
    specVersion: { index: service.specVersion?.index ?? 0 },
    serviceId: service.id,
    slot: o.slot,
    nodeId: o.nodeId ?? "",
    serviceAnnotations: Annotations.fromPartial(service.spec?.annotations ?? {}),
    status: { state: TaskState.TASK_STATE_NEW, timestampUnixMs: o.nowMs, message: CREATED_MESSAGE },
    desiredState: o.desiredState ?? TaskState.TASK_STATE_RUNNING,
    // The scheduler reads host-mode ports here; the allocator replaces it with the allocated endpoint.
    endpoint: Endpoint.fromPartial(service.endpoint ?? { spec: service.spec?.endpoint }),
    ...(logDriver ? { logDriver } : {}),
    ...(service.jobStatus ? { jobIteration: { index: service.jobStatus.jobIteration?.index ?? 0 } } : {}),
  });
}
