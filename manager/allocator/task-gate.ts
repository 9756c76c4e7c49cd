// The allocator's gate for one task: a NEW task moves to PENDING once everything it needs is
// allocated. Each resource kind is an `AllocationStep`; today the one step copies the service's
// allocated endpoint (published ports) into the task. Network attachments (addresses on overlay
// networks) plug in as another step. Pure.
import { Task, type Service } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { endpointAllocated } from "./endpoint.js";

/** One kind of resource a task needs before it can be scheduled. */
export interface AllocationStep {
  readonly name: string;
  /** Fills `task` (a copy) with its allocation; false when it cannot be allocated yet. */
  allocate(task: Task, service: Service | undefined): boolean;
}

/** Published ports: the task carries its service's allocated endpoint, for the scheduler's host-port filter. */
export const endpointStep: AllocationStep = {
  name: "endpoint",
  allocate(task, service) {
    if (!service) return true; // a task without a service (attachment) publishes nothing
    if (!endpointAllocated(service)) return false;
    task.endpoint = service.endpoint;
    return true;
  },
};

export const DEFAULT_STEPS: readonly AllocationStep[] = [endpointStep];

export const PENDING_MESSAGE = "pending task scheduling";

/**
 * The task moved to PENDING with its allocations, or null when it is not NEW, is no longer wanted,
 * or waits for an allocation.
 */
export function gateTask(task: Task, service: Service | undefined, nowMs: number, steps = DEFAULT_STEPS): Task | null {
  if (task.status?.state !== TaskState.TASK_STATE_NEW) return null;
  if (task.desiredState > TaskState.TASK_STATE_RUNNING) return null;
  const next = Task.fromPartial(task);
  for (const step of steps) if (!step.allocate(next, service)) return null;
  next.status = { ...next.status!, state: TaskState.TASK_STATE_PENDING, message: PENDING_MESSAGE, timestampUnixMs: nowMs, err: "" };
  return next;
}
