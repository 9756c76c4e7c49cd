// Where a round's time went, from the trace (tasks' status times as first polled), the engines'
// container times and the CLI's times. Pure. Offsets are ms after the CLI was spawned (t0).
//
// The round's figures: update_s (t0 to the commit of the last new task's RUNNING status: every slot
// then runs the new spec), update_completed_s (t0 to the update status's completed_at), cli_wall_s
// (t0 to the CLI's exit), sent (t0 to the CLI printing the service name, UpdateService answered) and
// update_started (t0 to the orchestrator's UPDATING).
// The phases, per task (p50, max and how many tasks had both ends observed):
//   new task   created → (PENDING, when a poll caught it) → ASSIGNED (allocator, scheduler) → container created (assignment sent,
//              agent accepted and prepared, engine create; ACCEPTED when a poll caught it) →
//              container started (engine create and start) → RUNNING seen by the agent → RUNNING
//              committed (status report, dispatcher batch, Raft);
//   refill     a RUNNING commit freeing a parallelism unit → the next slot's new task created
//              (the orchestrator's reaction);
//   old task   stop ordered (its slot's new task created, the same step under stop-first) →
//              container exited → SHUTDOWN seen by the agent (the stop call returned) → committed.
// Waves: the new tasks in creation order, `parallelism` at a time.
import { TaskState } from "../../proto/gen/types.js";
import { quantile } from "../support/report.js";
import type { ContainerTimes } from "./engine-times.js";
import type { TaskTrack, UpdateTrace } from "./watch-update.js";

export interface RoundTimes {
  /** The CLI's spawn, its first output line (null if none) and its exit, ms since the epoch. */
  t0Ms: number;
  sentAtMs: number | null;
  cliExitedAtMs: number;
  trace: UpdateTrace;
  containers: ReadonlyMap<string, ContainerTimes>;
  parallelism: number;
}

export interface Phase {
  name: string;
  p50Ms: number;
  maxMs: number;
  /** Tasks whose both ends were observed. */
  n: number;
}

export interface Wave {
  wave: number;
  tasks: number;
  /** How many nodes the wave's tasks went to. */
  nodes: number;
  /** Offsets from t0 (ms); null when no task of the wave had that time observed. */
  firstCreatedMs: number;
  lastCreatedMs: number;
  lastAssignedMs: number | null;
  lastContainerStartedMs: number | null;
  lastRunningCommittedMs: number | null;
}

export interface RoundBreakdown {
  /** t0 → the last new task's RUNNING committed. */
  updateMs: number;
  /** t0 → the first poll that saw every slot on the new spec. */
  updateSeenMs: number | null;
  /** t0 → the update status's completed_at; null if it never completed. */
  completedMs: number | null;
  cliWallMs: number;
  sentMs: number | null;
  updateStartedMs: number | null;
  firstCreatedMs: number;
  phases: Phase[];
  waves: Wave[];
  /** Slots whose new task was replaced again during the round (failed, restarted). */
  extraNewTasks: number;
  /** Slots whose new container started before their old one had exited (stop-first not waiting for the stop). */
  overlappingSlots: number;
}

function phase(name: string, durations: readonly (number | null)[]): Phase {
  const xs = durations.filter((d): d is number => d !== null && Number.isFinite(d)).sort((a, b) => a - b);
  return { name, p50Ms: quantile(xs, 0.5), maxMs: xs.at(-1) ?? 0, n: xs.length };
}

const diff = (to: number | null | undefined, from: number | null | undefined): number | null => (to && from ? to - from : null);
const seen = (t: TaskTrack, s: TaskState) => t.states.get(s);
/** When the agent's RUNNING was committed (its report time if no dispatcher stamped it). */
const runningCommittedAt = (t: TaskTrack): number | null => {
  const r = seen(t, TaskState.TASK_STATE_RUNNING);
  return r ? r.appliedAtMs || r.timestampMs : null;
};

/** The new spec's task running in each slot at the end, in creation order, and how many others of the new spec there were. */
function newTasks(trace: UpdateTrace): { final: TaskTrack[]; extra: number } {
  const version = trace.service.specVersion?.index ?? 0;
  const ofVersion = [...trace.tasks.values()].filter((t) => t.specVersion === version);
  const final = ofVersion.filter((t) => t.last.desiredState === TaskState.TASK_STATE_RUNNING && t.last.status?.state === TaskState.TASK_STATE_RUNNING);
  return { final: final.sort((a, b) => a.createdAtMs - b.createdAtMs || a.slot - b.slot), extra: ofVersion.length - final.length };
}

/** Per new task, how long after the k-th RUNNING commit (freeing a unit) the (parallelism + k)-th new task was created. */
function refills(fresh: readonly TaskTrack[], parallelism: number): number[] {
  const freed = fresh.map(runningCommittedAt).filter((x): x is number => x !== null).sort((a, b) => a - b);
  return fresh.slice(parallelism).flatMap((t, k) => (freed[k] !== undefined ? [t.createdAtMs - freed[k]] : []));
}

function waves(fresh: readonly TaskTrack[], containers: ReadonlyMap<string, ContainerTimes>, size: number, t0: number): Wave[] {
  const out: Wave[] = [];
  const latest = (xs: (number | null | undefined)[]): number | null => {
    const known = xs.filter((x): x is number => !!x);
    return known.length > 0 ? Math.max(...known) - t0 : null;
  };
  for (let i = 0; i < fresh.length; i += size) {
    const w = fresh.slice(i, i + size);
    out.push({
      wave: out.length + 1,
      tasks: w.length,
      nodes: new Set(w.map((t) => t.nodeId)).size,
      firstCreatedMs: w[0]!.createdAtMs - t0,
      lastCreatedMs: w.at(-1)!.createdAtMs - t0,
      lastAssignedMs: latest(w.map((t) => seen(t, TaskState.TASK_STATE_ASSIGNED)?.timestampMs)),
      lastContainerStartedMs: latest(w.map((t) => containers.get(t.id)?.startedMs)),
      lastRunningCommittedMs: latest(w.map(runningCommittedAt)),
    });
  }
  return out;
}

export function breakdown(r: RoundTimes): RoundBreakdown {
  const { trace, containers, t0Ms: t0 } = r;
  const { final: fresh, extra } = newTasks(trace);
  if (fresh.length === 0) throw new Error("breakdown: no task of the new spec runs");
  const createdInSlot = new Map(fresh.map((t) => [t.slot, t.createdAtMs]));
  const newInSlot = new Map(fresh.map((t) => [t.slot, t]));
  const old = [...trace.tasks.values()].filter((t) => t.specVersion === trace.fromSpecVersion && createdInSlot.has(t.slot));
  const status = trace.service.updateStatus;
  const lastRunning = Math.max(...fresh.map((t) => runningCommittedAt(t) ?? Infinity));
  const cont = (t: TaskTrack) => containers.get(t.id);

  const phases = [
    phase("new: created → PENDING (allocator; when that state was polled)", fresh.map((t) => diff(seen(t, TaskState.TASK_STATE_PENDING)?.timestampMs, t.createdAtMs))),
    phase("new: created → ASSIGNED", fresh.map((t) => diff(seen(t, TaskState.TASK_STATE_ASSIGNED)?.timestampMs, t.createdAtMs))),
    phase("new: ASSIGNED → ACCEPTED seen by agent (when that state was polled)", fresh.map((t) => diff(seen(t, TaskState.TASK_STATE_ACCEPTED)?.timestampMs, seen(t, TaskState.TASK_STATE_ASSIGNED)?.timestampMs))),
    phase("new: ASSIGNED → container created", fresh.map((t) => diff(cont(t)?.createdMs, seen(t, TaskState.TASK_STATE_ASSIGNED)?.timestampMs))),
    phase("new: created → container created", fresh.map((t) => diff(cont(t)?.createdMs, t.createdAtMs))),
    phase("new: container created → started", fresh.map((t) => diff(cont(t)?.startedMs, cont(t)?.createdMs))),
    phase("new: container started → RUNNING seen by agent", fresh.map((t) => diff(seen(t, TaskState.TASK_STATE_RUNNING)?.timestampMs, cont(t)?.startedMs))),
    phase("new: RUNNING seen → committed", fresh.map((t) => diff(seen(t, TaskState.TASK_STATE_RUNNING)?.appliedAtMs, seen(t, TaskState.TASK_STATE_RUNNING)?.timestampMs))),
    phase("new: created → RUNNING committed", fresh.map((t) => diff(runningCommittedAt(t), t.createdAtMs))),
    phase("refill: RUNNING committed → next task created", refills(fresh, r.parallelism)),
    phase("old: stop ordered → container exited", old.map((t) => diff(cont(t)?.finishedMs, createdInSlot.get(t.slot)))),
    phase("old: container exited → SHUTDOWN seen by agent (stop call returned)", old.map((t) => diff(seen(t, TaskState.TASK_STATE_SHUTDOWN)?.timestampMs, cont(t)?.finishedMs))),
    phase("slot: old container exited → new container started", old.map((t) => diff(cont(newInSlot.get(t.slot)!)?.startedMs, cont(t)?.finishedMs))),
    phase("old: SHUTDOWN seen → committed", old.map((t) => diff(seen(t, TaskState.TASK_STATE_SHUTDOWN)?.appliedAtMs, seen(t, TaskState.TASK_STATE_SHUTDOWN)?.timestampMs))),
    phase("tail: last RUNNING committed → COMPLETED", [diff(status?.completedAtUnixMs, lastRunning)]),
    phase("tail: COMPLETED → CLI exit", [diff(r.cliExitedAtMs, status?.completedAtUnixMs)]),
  ];
  return {
    updateMs: lastRunning - t0,
    updateSeenMs: diff(trace.allRunningSeenAtMs, t0),
    completedMs: diff(status?.completedAtUnixMs, t0),
    cliWallMs: r.cliExitedAtMs - t0,
    sentMs: diff(r.sentAtMs, t0),
    updateStartedMs: diff(status?.startedAtUnixMs, t0),
    firstCreatedMs: fresh[0]!.createdAtMs - t0,
    phases,
    waves: waves(fresh, containers, r.parallelism, t0),
    extraNewTasks: extra,
    overlappingSlots: old.filter((t) => {
      const started = cont(newInSlot.get(t.slot)!)?.startedMs;
      const finished = cont(t)?.finishedMs;
      return started !== undefined && finished !== undefined && (finished === null || started < finished);
    }).length,
  };
}
