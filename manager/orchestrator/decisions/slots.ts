// A service's tasks grouped into slots (replicated modes: by slot number; global modes: by node)
// and what each slot needs: nothing, its live task replaced or retired, or a new task. A slot has
// two live tasks only during a start-first replacement: the older one keeps running until the
// newer one runs, and gets the slot back if the newer one fails first. Pure.
import type { Task } from "../../../proto/gen/objects.js";
import { mayRestart } from "./restart.js";
import { TaskState } from "../../../proto/gen/types.js";
import { byCreation, exitedOnItsOwn, hasEnded, isBeingRemoved, isLive, observedState, type NodeFailure } from "./task-state.js";

/** The tasks of one slot, desired REMOVE excluded, oldest first. */
export interface Slot {
  /** The slot number (0 in global modes). */
  slot: number;
  /** The node (global modes; "" in replicated modes). */
  nodeId: string;
  tasks: Task[];
}

function sortTasks(slots: Iterable<Slot>): void {
  for (const s of slots) s.tasks.sort(byCreation);
}

/** Slots by number, in ascending order. */
export function slotsByNumber(tasks: readonly Task[]): Slot[] {
  const bySlot = new Map<number, Slot>();
  for (const t of tasks) {
    if (isBeingRemoved(t)) continue;
    let s = bySlot.get(t.slot);
    if (!s) bySlot.set(t.slot, (s = { slot: t.slot, nodeId: "", tasks: [] }));
    s.tasks.push(t);
  }
  sortTasks(bySlot.values());
  return [...bySlot.values()].sort((a, b) => a.slot - b.slot);
}

/** Slots by node id. */
export function slotsByNode(tasks: readonly Task[]): Map<string, Slot> {
  const byNode = new Map<string, Slot>();
  for (const t of tasks) {
    if (isBeingRemoved(t)) continue;
    let s = byNode.get(t.nodeId);
    if (!s) byNode.set(t.nodeId, (s = { slot: 0, nodeId: t.nodeId, tasks: [] }));
    s.tasks.push(t);
  }
  sortTasks(byNode.values());
  return byNode;
}

/** What a slot needs. */
export type SlotVerdict =
  /** No task, or the last one stopped and may be replaced: a new task may be created. */
  | { kind: "vacant" }
  /** Its live task runs, or is on its way. */
  | { kind: "running"; task: Task }
  /** Its live task stopped running (or its node failed): stop it and replace it. */
  | { kind: "replace"; task: Task }
  /** Its live task exited and its restart policy forbids a replacement: stop it; the slot stays taken. */
  | { kind: "retire"; task: Task }
  /** No live task; the last one exited and may not be replaced: the slot stays taken by it. */
  | { kind: "held"; task: Task };

export interface SlotJudgement {
  verdict: SlotVerdict;
  /** Live tasks beside the current one that are no longer needed: to be shut down. */
  extras: Task[];
  /**
   * Older live tasks kept while the current one, their start-first replacement, is on its way (not
   * RUNNING yet): they still run, on nodes that can run them.
   */
  aside: Task[];
}

export interface JudgeOptions {
  /** Job tasks: a restart policy of ANY means ON_FAILURE; jobs have no start-first replacements. */
  job: boolean;
  /** Why the task's node can no longer run it; absent when the caller handles nodes itself (global modes). */
  nodeFailure?: (t: Task) => NodeFailure | null;
}

/** Whether the slot can keep `t` running: it has not ended and its node can run it. */
const canRun = (t: Task, o: JudgeOptions): boolean => !hasEnded(t) && !(o.nodeFailure?.(t) ?? null);

/**
 * The slot's current task: its newest live task; but when that one ended or its node failed while
 * an older live task still runs (a start-first replacement failed before it ran), the older one —
 * the slot goes back to it, and the newer ones are shut down without replacement.
 */
function currentOf(live: readonly Task[], o: JudgeOptions): Task | undefined {
  const newest = live.at(-1);
  if (!newest || o.job || canRun(newest, o)) return newest;
  for (let i = live.length - 2; i >= 0; i--) if (canRun(live[i]!, o)) return live[i];
  return newest;
}

/** Splits the older live tasks: kept aside while `current` (their start-first replacement) does not run yet, else extras. */
function splitOlder(older: Task[], current: Task, o: JudgeOptions): { extras: Task[]; aside: Task[] } {
  if (o.job || observedState(current) === TaskState.TASK_STATE_RUNNING) return { extras: older, aside: [] };
  const extras: Task[] = [];
  const aside: Task[] = [];
  for (const t of older) (canRun(t, o) ? aside : extras).push(t);
  return { extras, aside };
}

export function judgeSlot(slot: Slot, o: JudgeOptions): SlotJudgement {
  const live = slot.tasks.filter(isLive);
  const current = currentOf(live, o);
  if (current) {
    const at = live.indexOf(current);
    const { extras, aside } = splitOlder(live.slice(0, at), current, o);
    const others = { extras: [...extras, ...live.slice(at + 1)], aside };
    if (hasEnded(current)) {
      const restarts = !exitedOnItsOwn(current) || mayRestart(current, slot.tasks, o.job);
      const verdict: SlotVerdict = restarts ? { kind: "replace", task: current } : { kind: "retire", task: current };
      return { verdict, ...others };
    }
    if (o.nodeFailure?.(current)) return { verdict: { kind: "replace", task: current }, ...others };
    return { verdict: { kind: "running", task: current }, ...others };
  }
  const last = slot.tasks.at(-1);
  if (last && exitedOnItsOwn(last) && !mayRestart(last, slot.tasks, o.job)) return { verdict: { kind: "held", task: last }, extras: [], aside: [] };
  return { verdict: { kind: "vacant" }, extras: [], aside: [] };
}
