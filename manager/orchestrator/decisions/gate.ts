// When a READY-gated task may start. A replacement (a restart's, or a stop-first update's) is
// created desired READY unless its gate is open already: its agent prepares it (the container is
// created, not started) until the gate opens and it is set RUNNING, so that it never runs beside
// the tasks before it in its slot (global modes: on its node), which may hold the same host-mode
// ports, volumes or reservations, and so that a task that keeps failing is restarted at the pace
// of its restart policy. Read from the store alone, so a new leader finds the same gate. Pure.
//
// The gate opens once every task before it stopped — observed past RUNNING, never placed, or its
// node DOWN or removed (a drained node's agent stops its tasks: those are waited for) — or
// OLD_TASK_TIMEOUT_MS after the gated task's creation, whichever comes first; then after its
// restart delay, when one applies. The delay applies when the task just before it failed before it
// was made (SwarmKit's restart supervisor): counted from that task's end, or from the gated task's
// creation when that task's node failed without it ending. None applies when that task was stopped
// on the orchestrator's request — an update's stop-first replacement, a drained node: it ended
// SHUTDOWN after the gated task was made, or it has not ended and was never placed, still runs, or
// its node went down only afterwards. So an update's replacement is told apart from a restart
// without a field of its own.
import type { Node, Task } from "../../../proto/gen/objects.js";
import { TaskState } from "../../../proto/gen/types.js";
import { restartRules } from "./restart.js";
import { byCreation, createdAtMs, endedAtMs, hasEnded, nodeFailure, observedState } from "./task-state.js";

/** How long a gated task waits for the tasks before it to stop before it starts anyway (SwarmKit's defaultOldTaskTimeout). */
export const OLD_TASK_TIMEOUT_MS = 60_000;

/** A node by id (undefined: removed), as `ServiceInput.node`. */
export type NodeLookup = (id: string) => Node | undefined;

/**
 * The tasks of `slotTasks` made before `t`, in their order: created no later than it (those of the
 * same millisecond included, whatever their Raft index says: waiting for one more is the safe side).
 */
export function tasksBefore(t: Task, slotTasks: readonly Task[]): Task[] {
  const created = createdAtMs(t);
  return slotTasks.filter((q) => q.id !== t.id && createdAtMs(q) <= created);
}

/** Whether the task reached an agent: placed on a node (observed ASSIGNED or further). */
const wasPlaced = (t: Task): boolean => t.nodeId !== "" && observedState(t) >= TaskState.TASK_STATE_ASSIGNED;

/** When a DOWN node went down, as far as the store tells: its last write. */
const downSinceMs = (n: Node): number => n.meta?.updatedAtUnixMs ?? 0;

/**
 * When `q` stopped running: its end; when its node went DOWN; -Infinity when it never reached a
 * node or its node was removed (when is not known: long enough ago); Infinity while it may still run.
 */
function stoppedAtMs(q: Task, node: NodeLookup): number {
  if (hasEnded(q)) return endedAtMs(q);
  if (!wasPlaced(q)) return -Infinity;
  const n = node(q.nodeId);
  const failure = nodeFailure(n);
  if (failure === "removed") return -Infinity;
  if (failure === "down") return downSinceMs(n!);
  return Infinity;
}

/**
 * When the wait for the tasks before `t` ends: when the last of them stopped, at the earliest at
 * `t`'s creation, at the latest OLD_TASK_TIMEOUT_MS after it (the answer while one may still run).
 */
function waitEndsAtMs(t: Task, before: readonly Task[], node: NodeLookup): number {
  const created = createdAtMs(t);
  let last = created;
  for (const q of before) last = Math.max(last, stoppedAtMs(q, node));
  return Math.min(last, created + OLD_TASK_TIMEOUT_MS);
}

/**
 * When `t`'s restart delay starts, or null when none applies: `p`, the task just before it, failed
 * before `t` was made — it ended (unless SHUTDOWN after `t`'s creation: stopped on request), or its
 * node was removed or went DOWN by then. No `p` (deleted): from `t`'s creation.
 */
function restartDelayFromMs(t: Task, p: Task | undefined, node: NodeLookup): number | null {
  const created = createdAtMs(t);
  if (!p) return created;
  if (hasEnded(p)) {
    const end = endedAtMs(p);
    if (observedState(p) === TaskState.TASK_STATE_SHUTDOWN && end >= created) return null;
    return Math.min(created, end);
  }
  if (!wasPlaced(p)) return null;
  const n = node(p.nodeId);
  const failure = nodeFailure(n);
  if (failure === "removed" || (failure === "down" && downSinceMs(n!) <= created)) return created;
  return null;
}

/**
 * When READY-gated task `t` may start, given the tasks of its slot made before it (`before`, in any
 * order) and the nodes: the end of the wait for them, then the restart delay if one applies. While
 * one of them may still run, the answer is the latest the gate opens (creation +
 * OLD_TASK_TIMEOUT_MS, or its restart delay's end); its stop is a task event that makes the service
 * be decided again, with an earlier answer.
 */
export function gateOpensAtMs(t: Task, before: readonly Task[], node: NodeLookup): number {
  const waited = waitEndsAtMs(t, before, node);
  const p = before.reduce<Task | undefined>((latest, q) => (!latest || byCreation(q, latest) > 0 ? q : latest), undefined);
  const from = restartDelayFromMs(t, p, node);
  return from === null ? waited : Math.max(waited, from + restartRules(t).delayMs);
}
