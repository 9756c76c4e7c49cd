// Follows one round's update on the leader: polls GetService and ListTasks (every `pollMs`) and keeps,
// for every task of the service, the first sighting of each observed state with the status's own
// times (when its reporter saw it, and when a dispatcher committed it). The store keeps only a task's
// latest status, so a state that came and went between two polls is missing from the trace. Ends once
// the update is in (the spec version moved past `fromSpecVersion`), every slot runs a task of the new
// spec, the update status says COMPLETED, every older task has ended and `settled()` (the CLI exited)
// holds.
import type { Service, Task } from "../../proto/gen/objects.js";
import { TaskState, UpdateState } from "../../proto/gen/types.js";
import type { LocalControl } from "../support/swarmd-api.js";
import { epochMs, sleep } from "../support/wait.js";

/** One observed state of a task as first seen (ms since the epoch). */
export interface StateSeen {
  /** When its reporter (agent, scheduler, allocator, orchestrator) observed it. */
  timestampMs: number;
  /** When a dispatcher committed it; 0 for states a manager component wrote itself. */
  appliedAtMs: number;
  /** The poll that first saw it. */
  seenAtMs: number;
}

export interface TaskTrack {
  id: string;
  slot: number;
  nodeId: string;
  specVersion: number;
  createdAtMs: number;
  states: Map<TaskState, StateSeen>;
  /** As last polled. */
  last: Task;
}

export interface UpdateTrace {
  fromSpecVersion: number;
  /** The service as last polled. */
  service: Service;
  tasks: Map<string, TaskTrack>;
  /** The first poll that saw every slot run a task of the new spec; null if none did. */
  allRunningSeenAtMs: number | null;
  /** The first poll that saw the update status COMPLETED; null if none did. */
  completedSeenAtMs: number | null;
  polls: number;
}

export interface TraceOptions {
  serviceId: string;
  replicas: number;
  fromSpecVersion: number;
  pollMs: number;
  timeoutMs: number;
  /** Whatever else must have finished (the CLI) before the trace ends. */
  settled: () => boolean;
}

const specVersionOf = (t: Task): number => t.specVersion?.index ?? 0;
const observed = (t: Task): TaskState => t.status?.state ?? TaskState.TASK_STATE_NEW;
const hasEnded = (t: Task): boolean => observed(t) >= TaskState.TASK_STATE_COMPLETE;

/** How many slots run a task of the service's current spec version (desired and observed RUNNING). */
export function slotsRunningNewSpec(service: Service, tasks: readonly Task[]): number {
  const version = service.specVersion?.index ?? 0;
  const slots = new Set<number>();
  for (const t of tasks) {
    if (specVersionOf(t) === version && t.desiredState === TaskState.TASK_STATE_RUNNING && observed(t) === TaskState.TASK_STATE_RUNNING) slots.add(t.slot);
  }
  return slots.size;
}

/** Tasks counted by observed state, for messages: {"TASK_STATE_RUNNING": 20, ...}. */
export function stateCounts(tasks: readonly Task[]): string {
  const out: Record<string, number> = {};
  for (const t of tasks) {
    const k = TaskState[observed(t)] ?? String(observed(t));
    out[k] = (out[k] ?? 0) + 1;
  }
  return JSON.stringify(out);
}

function record(trace: UpdateTrace, tasks: readonly Task[], seenAtMs: number): void {
  for (const t of tasks) {
    let track = trace.tasks.get(t.id);
    if (!track) {
      track = { id: t.id, slot: t.slot, nodeId: t.nodeId, specVersion: specVersionOf(t), createdAtMs: t.meta?.createdAtUnixMs ?? 0, states: new Map(), last: t };
      trace.tasks.set(t.id, track);
    }
    track.last = t;
    track.nodeId = t.nodeId;
    const state = observed(t);
    if (!track.states.has(state)) track.states.set(state, { timestampMs: t.status?.timestampUnixMs ?? 0, appliedAtMs: t.status?.appliedAtUnixMs ?? 0, seenAtMs });
  }
}

/** Polls until the round's update is over (see the module comment); throws with the tasks' states on timeout. */
export async function traceUpdate(control: LocalControl, o: TraceOptions): Promise<UpdateTrace> {
  const until = epochMs() + o.timeoutMs;
  let trace: UpdateTrace | null = null;
  for (;;) {
    const [service, tasks] = await Promise.all([control.service(o.serviceId), control.tasks({ serviceIds: [o.serviceId] })]);
    const now = epochMs();
    trace ??= { fromSpecVersion: o.fromSpecVersion, service, tasks: new Map(), allRunningSeenAtMs: null, completedSeenAtMs: null, polls: 0 };
    trace.service = service;
    trace.polls++;
    record(trace, tasks, now);
    const version = service.specVersion?.index ?? 0;
    const inEffect = version > o.fromSpecVersion;
    if (inEffect && trace.allRunningSeenAtMs === null && slotsRunningNewSpec(service, tasks) >= o.replicas) trace.allRunningSeenAtMs = now;
    if (inEffect && trace.completedSeenAtMs === null && service.updateStatus?.state === UpdateState.UPDATE_STATE_COMPLETED) trace.completedSeenAtMs = now;
    const oldEnded = tasks.every((t) => specVersionOf(t) === version || hasEnded(t));
    if (trace.allRunningSeenAtMs !== null && trace.completedSeenAtMs !== null && oldEnded && o.settled()) return trace;
    if (now > until) {
      const status = service.updateStatus ? `${UpdateState[service.updateStatus.state]} "${service.updateStatus.message}"` : "none";
      throw new Error(
        `update not over within ${o.timeoutMs} ms: spec version ${version} (was ${o.fromSpecVersion}), update status ${status}, ` +
          `${slotsRunningNewSpec(service, tasks)}/${o.replicas} slots running the new spec, tasks by state ${stateCounts(tasks)}, CLI ${o.settled() ? "exited" : "still running"}`,
      );
    }
    await sleep(o.pollMs);
  }
}
