// Task states as docker's service progress counts them: a small ordinal per state (new 1 …
// running 9, then the terminal ones), the state word, and which states are final.
import { TaskState } from "../../../proto/gen/types.js";
import { TASK_STATES, wordOf } from "../../words.js";

const ORDINALS: ReadonlyMap<TaskState, number> = new Map([
  [TaskState.TASK_STATE_NEW, 1],
  [TaskState.TASK_STATE_PENDING, 3],
  [TaskState.TASK_STATE_ASSIGNED, 4],
  [TaskState.TASK_STATE_ACCEPTED, 5],
  [TaskState.TASK_STATE_PREPARING, 6],
  [TaskState.TASK_STATE_READY, 7],
  [TaskState.TASK_STATE_STARTING, 8],
  [TaskState.TASK_STATE_RUNNING, 9],
  [TaskState.TASK_STATE_COMPLETE, 10],
  [TaskState.TASK_STATE_SHUTDOWN, 11],
  [TaskState.TASK_STATE_FAILED, 12],
  [TaskState.TASK_STATE_REJECTED, 13],
]);

/** Docker's progress ordinal of a state (running = 9); 0 for states progress ignores (remove, orphaned). */
export function stateOrdinal(state: TaskState): number {
  return ORDINALS.get(state) ?? 0;
}

/** A state past running (complete, shutdown, failed, rejected): the task will not run again. */
export function isTerminal(state: TaskState): boolean {
  return stateOrdinal(state) > stateOrdinal(TaskState.TASK_STATE_RUNNING);
}

/** "running", "complete", … */
export function stateWord(state: TaskState): string {
  return wordOf(TASK_STATES, state);
}

/** The widest word progress shows for a task ("preparing"), so the bars line up. */
export const STATE_COLUMN = Math.max(
  ...[...ORDINALS.keys()].filter((s) => !isTerminal(s) || s === TaskState.TASK_STATE_COMPLETE).map((s) => stateWord(s).length),
);
