// Whether a task is where its service wants it, still on its way, or stuck: pending with a
// scheduler error ("no suitable node (…)") for longer than the stall time, or stopped for good —
// its restart policy will not replace it, or no replacement came within the restart delay plus
// the stall time. Progress fails the command when every task is either done or stuck.
import type { Service, Task } from "../../../proto/gen/objects.js";
import { RestartCondition, TaskState } from "../../../proto/gen/types.js";
import { formatDuration } from "../../output/duration.js";
import { isTerminal, stateWord } from "./task-states.js";

/** What progress makes of one task (the one that stands for its slot or node). */
export type Verdict = { kind: "done" } | { kind: "progressing" } | { kind: "stuck"; reason: string };

/** A task that keeps its service from converging, and why. */
export interface StuckTask {
  /** "web.2" (slot) or "web@node1" (global). */
  label: string;
  reason: string;
}

/** Remembers when each condition (a task pending with an error, a task stopped) was first seen. */
export class StallTracker {
  private readonly firstSeen = new Map<string, number>();

  /** How long `key` has held, counting from the first time it was reported. */
  observedFor(key: string, now: number): number {
    const first = this.firstSeen.get(key) ?? now;
    this.firstSeen.set(key, first);
    return now - first;
  }
}

/** What judging a task needs besides the task. */
export interface VerdictContext {
  service: Service;
  /** Jobs are done when their tasks complete; services when they run. */
  job: boolean;
  now: number;
  /** How long a task may stay pending with an error, or stopped beyond its restart delay. */
  stallMs: number;
  tracker: StallTracker;
  /** Tasks of the same slot (or node) and spec, this one included: 1 + the restarts so far. */
  attempts: number;
}

const DEFAULT_RESTART_DELAY_MS = 5_000;

/** Why the restart policy will not replace a stopped task, or undefined when it will. */
function restartRefusal(task: Task, c: VerdictContext): string | undefined {
  const policy = c.service.spec?.task?.restart;
  const condition = policy?.condition ?? RestartCondition.RESTART_CONDITION_ANY;
  if (condition === RestartCondition.RESTART_CONDITION_NONE) return `the restart policy will not replace it (condition "none")`;
  if (condition === RestartCondition.RESTART_CONDITION_ON_FAILURE && task.status?.state === TaskState.TASK_STATE_COMPLETE) {
    return `the restart policy will not replace it (condition "on-failure" and it completed)`;
  }
  const max = policy?.maxAttempts ?? 0;
  if (max > 0 && !policy?.windowMs && c.attempts - 1 >= max) return `the restart policy will not replace it (${max} restarts made, the maximum)`;
  return undefined;
}

/** Judges the task that stands for a slot or node. */
export function verdictOf(task: Task, c: VerdictContext): Verdict {
  const state = task.status?.state ?? TaskState.TASK_STATE_NEW;
  const err = task.status?.err ?? "";
  const done = c.job ? state === TaskState.TASK_STATE_COMPLETE : state === TaskState.TASK_STATE_RUNNING && !isTerminal(task.desiredState);
  if (done) return { kind: "done" };
  if (state < TaskState.TASK_STATE_ASSIGNED && err !== "") {
    const waited = c.tracker.observedFor(`pending ${task.id}`, c.now);
    return waited >= c.stallMs ? { kind: "stuck", reason: `${err} (pending for ${formatDuration(waited)})` } : { kind: "progressing" };
  }
  if (isTerminal(state)) {
    const what = `${stateWord(state)}: ${err || task.status?.message || "no reason given"}`;
    const refusal = restartRefusal(task, c);
    if (refusal) return { kind: "stuck", reason: `${what}; ${refusal}` };
    const delay = c.service.spec?.task?.restart?.delayMs ?? DEFAULT_RESTART_DELAY_MS;
    const waited = c.tracker.observedFor(`stopped ${task.id}`, c.now);
    if (waited >= delay + c.stallMs) return { kind: "stuck", reason: `${what}; not replaced after ${formatDuration(waited)}` };
  }
  return { kind: "progressing" };
}

/** The tasks that block convergence, once nothing is progressing any more; undefined while something still is. */
export function blockers(verdicts: readonly { label: string; verdict: Verdict }[]): StuckTask[] | undefined {
  if (verdicts.some((v) => v.verdict.kind === "progressing")) return undefined;
  const stuck = verdicts.flatMap((v) => (v.verdict.kind === "stuck" ? [{ label: v.label, reason: v.verdict.reason }] : []));
  return stuck.length > 0 ? stuck : undefined;
}
