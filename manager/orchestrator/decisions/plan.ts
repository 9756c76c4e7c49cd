// What a decision returns: steps, each a set of writes (tasks, and the service's update status)
// committed all or nothing, and the time the decision wants to be made again (a gated task's gate
// opening at the latest, an update's delay or monitor window ending). The runners commit steps; a step whose premises changed
// meanwhile is dropped and the decision made again from the new state.
import type { Task } from "../../../proto/gen/objects.js";
import type { TaskState, TaskStatus, UpdateStatus } from "../../../proto/gen/types.js";

/**
 * A change of one stored task: raise its desired state and/or set its observed status. It applies
 * only while the stored task has the desired state `task` has (and, with a status, is observed at
 * RUNNING or below); otherwise its step is dropped.
 */
export interface TaskChange {
  /** The task as the decision saw it. */
  task: Task;
  desiredState?: TaskState;
  status?: TaskStatus;
}

/**
 * A change of the service's update status, and for an automatic rollback of its spec (the spec and
 * the previous spec swap, with their versions). It applies only while the stored service has the
 * update status the decision saw (and the step's spec version, which such a step always names).
 */
export interface ServiceChange {
  /** The update status the decision saw (undefined: none). */
  seen: UpdateStatus | undefined;
  updateStatus: UpdateStatus;
  /** Restore the previous spec; the step is dropped if there is none. */
  rollback: boolean;
}

/** Writes committed together. */
export interface Step {
  /** The service the step is about: its decision is made again when the step cannot be applied. */
  serviceId: string;
  /** For steps that create tasks or change the service: the service's spec version they were made from (the step is dropped if it changed). */
  specVersion?: number;
  create: Task[];
  change: TaskChange[];
  /** Tasks to delete; each only while its desired and observed states are those seen. */
  remove: Task[];
  service?: ServiceChange;
}

/** A decision: the steps to commit and when to decide again (null: only when something changes). */
export interface Decision {
  steps: Step[];
  wakeAtMs: number | null;
}

export function step(serviceId: string, parts: Partial<Omit<Step, "serviceId">> = {}): Step {
  return {
    serviceId,
    create: parts.create ?? [],
    change: parts.change ?? [],
    remove: parts.remove ?? [],
    ...(parts.specVersion !== undefined ? { specVersion: parts.specVersion } : {}),
    ...(parts.service ? { service: parts.service } : {}),
  };
}

/** A step that raises the desired state of tasks (stop, remove, start a gated task). */
export function desire(serviceId: string, tasks: readonly Task[], desiredState: TaskState): Step {
  return step(serviceId, { change: tasks.filter((t) => t.desiredState < desiredState).map((task) => ({ task, desiredState })) });
}

/** Collects steps and the earliest wake-up time of a decision. */
export class DecisionBuilder {
  readonly steps: Step[] = [];
  private wake: number | null = null;
  /** Ids of the tasks some step already changes. */
  private readonly touched = new Set<string>();

  add(s: Step): void {
    if (s.create.length + s.change.length + s.remove.length === 0 && !s.service) return;
    this.steps.push(s);
    for (const c of s.change) this.touched.add(c.task.id);
    for (const t of s.remove) this.touched.add(t.id);
  }

  touches(t: Task): boolean {
    return this.touched.has(t.id);
  }

  wakeAt(ms: number): void {
    if (this.wake === null || ms < this.wake) this.wake = ms;
  }

  build(): Decision {
    return { steps: this.steps, wakeAtMs: this.wake };
  }
}
