// The simulated agents: for every READY node, what its agent would report about the tasks assigned to
// it, written through the dispatcher's TaskStatusWriter (forward only, stamped applied_at). A task
// desired READY or RUNNING moves there; a task desired SHUTDOWN or REMOVE is shut down; tasks on
// nodes that are not READY are left as they are (their agent is unreachable). Failures are injected
// on demand, never on their own, so that the cluster can settle.
import type { Node, Task } from "../../proto/gen/objects.js";
import { NodeState, TaskState, TaskStatus } from "../../proto/gen/types.js";
import { TaskStatusWriter, type TaskStatusReport } from "../../manager/dispatcher/index.js";
import type { MemoryStore } from "../../manager/store/index.js";

const MESSAGES: Partial<Record<TaskState, string>> = {
  [TaskState.TASK_STATE_READY]: "prepared",
  [TaskState.TASK_STATE_RUNNING]: "started",
  [TaskState.TASK_STATE_SHUTDOWN]: "shutdown",
  [TaskState.TASK_STATE_FAILED]: "task: non-zero exit (1)",
};

export class SimAgents {
  private readonly writer: TaskStatusWriter;

  constructor(private readonly store: MemoryStore) {
    this.writer = new TaskStatusWriter({ store, appliedBy: "manager-1", wallClock: () => Date.now() });
  }

  /** Reports one move of every task whose agent has something to do; resolves with how many were reported. */
  async act(): Promise<number> {
    const reports = this.store.view((r) => {
      const ready = new Set(r.list("node").filter((n) => (n as unknown as Node).status?.state === NodeState.NODE_STATE_READY).map((n) => n.id));
      const out: TaskStatusReport[] = [];
      for (const o of r.list("task")) {
        const t = o as unknown as Task;
        if (!ready.has(t.nodeId)) continue;
        const next = nextState(t);
        if (next !== null) out.push(this.report(t, next));
      }
      return out;
    });
    await this.writer.set(reports);
    return reports.length;
  }

  /** Makes the RUNNING tasks on READY nodes that `chosen` picks exit with code 1; resolves with their ids. */
  async fail(chosen: (t: Task) => boolean): Promise<string[]> {
    const reports = this.store.view((r) => {
      const ready = new Set(r.list("node").filter((n) => (n as unknown as Node).status?.state === NodeState.NODE_STATE_READY).map((n) => n.id));
      return (r.list("task") as unknown as Task[])
        .filter((t) => ready.has(t.nodeId) && t.status?.state === TaskState.TASK_STATE_RUNNING)
        .sort((a, b) => (a.id < b.id ? -1 : 1))
        .filter(chosen)
        .map((t) => this.report(t, TaskState.TASK_STATE_FAILED, 1));
    });
    await this.writer.set(reports);
    return reports.map((r) => r.taskId);
  }

  private report(t: Task, state: TaskState, exitCode = 0): TaskStatusReport {
    const status = TaskStatus.fromPartial({
      state,
      message: MESSAGES[state] ?? "",
      err: state === TaskState.TASK_STATE_FAILED ? "task: non-zero exit (1)" : "",
      timestampUnixMs: Date.now(),
      container: { containerId: `c-${t.id}`, pid: state === TaskState.TASK_STATE_RUNNING ? 100 : 0, exitCode },
    });
    return { taskId: t.id, nodeId: t.nodeId, status };
  }
}

/** What a task's agent reports next, or null: the agent only knows tasks assigned to it, until they stop. */
function nextState(t: Task): TaskState | null {
  const observed = t.status?.state ?? TaskState.TASK_STATE_NEW;
  if (observed < TaskState.TASK_STATE_ASSIGNED || observed > TaskState.TASK_STATE_RUNNING) return null;
  if (t.desiredState >= TaskState.TASK_STATE_SHUTDOWN) return TaskState.TASK_STATE_SHUTDOWN;
  return t.desiredState > observed ? t.desiredState : null;
}
