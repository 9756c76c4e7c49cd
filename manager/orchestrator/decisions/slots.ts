// A service's tasks grouped into slots (replicated modes: by slot number; global modes: by node)
// and what each slot needs: nothing, its live task replaced or retired, or a new task. Pure.
import type { Task } from "../../../proto/gen/objects.js";
import { mayRestart, type ReplaceCause } from "./restart.js";
import { byCreation, exitedOnItsOwn, hasEnded, isBeingRemoved, isLive, type NodeFailure } from "./task-state.js";

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
  | { kind: "replace"; task: Task; cause: ReplaceCause }
  /** Its live task exited and its restart policy forbids a replacement: stop it; the slot stays taken. */
  | { kind: "retire"; task: Task }
  /** No live task; the last one exited and may not be replaced: the slot stays taken by it. */
  | { kind: "held"; task: Task };

export interface SlotJudgement {
  verdict: SlotVerdict;
  /** Older live tasks beside the current one (never made by these rules): to be shut down. */
  extras: Task[];
}

export interface JudgeOptions {
  /** Job tasks: a restart policy of ANY means ON_FAILURE. */
  job: boolean;
  /** Why the task's node can no longer run it; absent when the caller handles nodes itself (global modes). */
  nodeFailure?: (t: Task) => NodeFailure | null;
}

export function judgeSlot(slot: Slot, o: JudgeOptions): SlotJudgement {
  const live = slot.tasks.filter(isLive);
  const current = live.at(-1);
  const extras = live.slice(0, -1);
  if (current) {
    if (hasEnded(current)) {
      if (!exitedOnItsOwn(current)) return { verdict: { kind: "replace", task: current, cause: "lost" }, extras };
      const verdict: SlotVerdict = mayRestart(current, slot.tasks, o.job)
        ? { kind: "replace", task: current, cause: "exited" }
        : { kind: "retire", task: current };
      return { verdict, extras };
    }
    const failure = o.nodeFailure?.(current) ?? null;
    if (failure) return { verdict: { kind: "replace", task: current, cause: failure }, extras };
    return { verdict: { kind: "running", task: current }, extras };
  }
  const last = slot.tasks.at(-1);
  if (last && exitedOnItsOwn(last) && !mayRestart(last, slot.tasks, o.job)) return { verdict: { kind: "held", task: last }, extras };
  return { verdict: { kind: "vacant" }, extras };
}
