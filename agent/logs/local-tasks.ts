// The tasks of this node as the log publisher sees them: the assigned tasks (from the session's
// assignments, stopped ones included until the managers delete them) with their latest state (the
// worker's, since the managers do not echo the states the agent reports). Emits `change` when a task
// is assigned or its state moves, so a following subscription can start reading it.
import { EventEmitter } from "node:events";
import type { LogSelector } from "../../proto/gen/logs.js";
import type { Task } from "../../proto/gen/objects.js";
import { TaskState, type TaskStatus } from "../../proto/gen/types.js";
import type { AssignmentsEvent } from "../session/index.js";

/** Events of {@link LocalTasks}. */
export interface LocalTasksEvents {
  change: [task: Task];
}

/** Whether a task's container has run, so the engine has logs of it. */
export function hasRun(state: TaskState): boolean {
  return state >= TaskState.TASK_STATE_RUNNING;
}

export class LocalTasks extends EventEmitter<LocalTasksEvents> {
  private readonly tasks = new Map<string, Task>();
  private readonly states = new Map<string, TaskState>();

  constructor(
    /** This node's id (a selector naming it selects every local task). */
    private readonly nodeId: string,
    /** The worker's latest status of a task, when it knows the task. */
    private readonly statusOf: (taskId: string) => TaskStatus | undefined = () => undefined,
  ) {
    super();
  }

  /** Applies one assignments message: a complete set replaces the tasks; changes add, update and remove. */
  assign(ev: AssignmentsEvent): void {
    if (ev.type === "complete") {
      const keep = new Set(ev.tasks.map((t) => t.id));
      for (const id of this.tasks.keys()) if (!keep.has(id)) this.forget(id);
    }
    for (const id of ev.removedTasks) this.forget(id);
    for (const t of ev.tasks) {
      this.tasks.set(t.id, t);
      this.emit("change", t);
    }
  }

  /** The worker reported a new status of a task. */
  statusChanged(taskId: string, status: TaskStatus): void {
    this.states.set(taskId, Math.max(this.states.get(taskId) ?? TaskState.TASK_STATE_NEW, status.state));
    const t = this.tasks.get(taskId);
    if (t) this.emit("change", t);
  }

  /** The task's latest state: the highest of the worker's, the last reported and the assignment's. */
  state(taskId: string): TaskState {
    return Math.max(
      this.statusOf(taskId)?.state ?? TaskState.TASK_STATE_NEW,
      this.states.get(taskId) ?? TaskState.TASK_STATE_NEW,
      this.tasks.get(taskId)?.status?.state ?? TaskState.TASK_STATE_NEW,
    );
  }

  /** Whether the selector names the task: by id, by its service, or by this node. */
  selects(selector: LogSelector, task: Task): boolean {
    return selector.taskIds.includes(task.id) || selector.serviceIds.includes(task.serviceId) || selector.nodeIds.includes(this.nodeId);
  }

  /** The local tasks the selector names. */
  matching(selector: LogSelector): Task[] {
    return [...this.tasks.values()].filter((t) => this.selects(selector, t));
  }

  private forget(taskId: string): void {
    this.tasks.delete(taskId);
    this.states.delete(taskId);
  }
}
