// The words a task's status carries, as SwarmKit's agent (agent/exec/controller.go) and docker's
// executor (daemon/cluster/executor/container/controller.go) write them, and small helpers over
// TaskState's ordering.
import { TaskState, type TaskStatus } from "../../proto/gen/types.js";

/** `TaskStatus.message` of each state the task controller moves to (SwarmKit's words). */
export const TASK_MESSAGE = {
  accepted: "accepted",
  preparing: "preparing",
  prepared: "prepared",
  starting: "starting",
  started: "started",
  finished: "finished",
  shutdown: "shutdown",
} as const;

/** Why a container that failed its healthcheck was stopped (docker's ErrContainerUnhealthy). */
export const UNHEALTHY_CAUSE = "dockerexec: unhealthy container";

/** `TaskStatus.err` of a container that exited non-zero, as docker's executor words it. */
export function exitErrorMessage(exitCode: number, cause?: string): string {
  return cause ? `task: non-zero exit (${exitCode}): ${cause}` : `task: non-zero exit (${exitCode})`;
}

/** Has the task stopped for good (COMPLETE, SHUTDOWN, FAILED, REJECTED, REMOVE, ORPHANED)? */
export function isTerminal(state: TaskState): boolean {
  return state >= TaskState.TASK_STATE_COMPLETE;
}

/**
 * An executor error worth retrying (the engine is restarting, a registry timed out): mark it with
 * `temporary: true`. The task stays in its state and the step is retried after a delay, as
 * SwarmKit's `exec.IsTemporary` errors are. Every other error fails the task.
 */
export function isTemporaryError(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { temporary?: unknown }).temporary === true;
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A copy of a status deep enough that the holder may not change the original. */
export function copyStatus(s: TaskStatus): TaskStatus {
  return {
    ...s,
    container: s.container ? { ...s.container } : undefined,
    portStatus: s.portStatus ? { ports: [...s.portStatus.ports] } : undefined,
  };
}
