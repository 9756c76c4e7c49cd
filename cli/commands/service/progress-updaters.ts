// One poll of a service's convergence, drawn as docker draws it, per mode:
//   replicated   overall progress: 2 out of 3 tasks / 1/3: running [====>] per slot
//   global       the same per node (ids are the nodes' short ids)
//   jobs         job progress: 3 out of 5 complete [===>] / active tasks: 2 out of 2 tasks / per slot or node
// Each update picks the task that stands for a slot (or node), as docker does, judges it (done,
// progressing, stuck) and says whether the service converged, or that it cannot.
import type { Service, Task } from "../../../proto/gen/objects.js";
import { TaskState } from "../../../proto/gen/types.js";
import { StallTracker, blockers, verdictOf, type StuckTask, type Verdict } from "./convergence.js";
import type { ProgressWriter } from "./progress-output.js";
import { STATE_COLUMN, isTerminal, stateOrdinal, stateWord } from "./task-states.js";

/** What one poll saw. */
export interface Poll {
  service: Service;
  /** The service's tasks of its current spec (and job iteration). */
  tasks: Task[];
  /** Nodes that are not down. */
  activeNodes: ReadonlySet<string>;
  /** Node id → hostname, for messages. */
  nodeNames: ReadonlyMap<string, string>;
  rollback: boolean;
  now: number;
}

/** The outcome of a poll. */
export interface PollResult {
  converged: boolean;
  /** Set when the service cannot converge: the tasks that block it. */
  stuck?: StuckTask[];
}

/** Draws and judges polls of one service. */
export interface ProgressUpdater {
  update(poll: Poll): PollResult;
}

/** Bars are drawn per task only up to this many tasks (docker's limit). */
const MAX_PROGRESS_BARS = 20;
const SERVICE_PROGRESS_TOTAL = 9;
const JOB_PROGRESS_TOTAL = 10;
const MAX_ERROR_WIDTH = 75;
const SHORT_ID = 12;

/** A task error on one line of at most 75 characters. */
export function truncateError(err: string): string {
  const line = err.replace(/\n/g, " ");
  return line.length > MAX_ERROR_WIDTH ? `${line.slice(0, MAX_ERROR_WIDTH - 1)}…` : line;
}

const desired = (t: Task) => stateOrdinal(t.desiredState);
const observed = (t: Task) => stateOrdinal(t.status?.state ?? TaskState.TASK_STATE_NEW);
const known = (t: Task) => desired(t) !== 0 && observed(t) !== 0;

/** Per key, the task with the lowest desired state, then the lowest observed state (docker's choice during restarts). */
function pickLowestDesired(tasks: readonly Task[], key: (t: Task) => string | number): Map<string | number, Task> {
  const picked = new Map<string | number, Task>();
  for (const t of tasks) {
    if (!known(t)) continue;
    const prev = picked.get(key(t));
    if (prev && (desired(prev) < desired(t) || (desired(prev) === desired(t) && observed(prev) <= observed(t)))) continue;
    picked.set(key(t), t);
  }
  return picked;
}

/** Per key, the task with the lowest observed state (jobs). */
function pickLowestObserved(tasks: readonly Task[], key: (t: Task) => string | number): Map<string | number, Task> {
  const picked = new Map<string | number, Task>();
  for (const t of tasks) {
    if (!known(t)) continue;
    const prev = picked.get(key(t));
    if (!prev || observed(prev) > observed(t)) picked.set(key(t), t);
  }
  return picked;
}

const byKey = <K extends string | number>(m: Map<K, Task>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function taskLine(out: ProgressWriter, id: string, task: Task, total: number): void {
  const err = task.status?.err ?? "";
  if (err !== "") out.update(id, truncateError(err));
  else out.update(id, stateWord(task.status?.state ?? TaskState.TASK_STATE_NEW).padEnd(STATE_COLUMN), { current: observed(task), total });
}

function overall(out: ProgressWriter, running: number, total: number, rollback: boolean): void {
  out.update("overall progress", rollback ? `rolling back update: ${running} out of ${total} tasks` : `${running} out of ${total} tasks`);
}

/** Judges the chosen tasks of a poll. */
class Judge {
  private readonly tracker = new StallTracker();

  constructor(
    private readonly stallMs: number,
    private readonly job: boolean,
  ) {}

  verdicts(poll: Poll, chosen: readonly [string | number, Task][], key: (t: Task) => string | number): { label: string; verdict: Verdict }[] {
    const name = poll.service.spec?.annotations?.name || poll.service.id;
    return chosen.map(([k, task]) => ({
      label: task.slot > 0 ? `${name}.${task.slot}` : `${name}@${poll.nodeNames.get(task.nodeId) || task.nodeId}`,
      verdict: verdictOf(task, {
        service: poll.service,
        job: this.job,
        now: poll.now,
        stallMs: this.stallMs,
        tracker: this.tracker,
        attempts: poll.tasks.filter((t) => key(t) === k).length,
      }),
    }));
  }
}

class ReplicatedProgress implements ProgressUpdater {
  private readonly slotLines = new Map<number, number>();
  private initialized = false;
  private done = false;
  private readonly judge: Judge;

  constructor(
    private readonly out: ProgressWriter,
    stallMs: number,
  ) {
    this.judge = new Judge(stallMs, false);
  }

  update(poll: Poll): PollResult {
    const mode = poll.service.spec?.mode;
    const replicas = mode?.$case === "replicated" ? mode.replicated.replicas : 0;
    if (!this.initialized) {
      overall(this.out, 0, replicas, poll.rollback);
      if (replicas <= MAX_PROGRESS_BARS) for (let i = 1; i <= replicas; i++) this.out.update(`${i}/${replicas}`, " ");
      this.initialized = true;
    }
    const slotOf = (t: Task) => t.slot;
    const onActiveNodes = poll.tasks.filter((t) => t.nodeId === "" || poll.activeNodes.has(t.nodeId));
    const chosen = byKey(pickLowestDesired(onActiveNodes, slotOf)) as [number, Task][];
    if (this.done && chosen.some(([, t]) => t.status?.state !== TaskState.TASK_STATE_RUNNING)) this.done = false;
    let running = 0;
    for (const [slot, task] of chosen) {
      const line = this.slotLines.get(slot) ?? this.slotLines.size + 1;
      this.slotLines.set(slot, line);
      if (!isTerminal(task.desiredState) && task.status?.state === TaskState.TASK_STATE_RUNNING) running++;
      const drawn = !this.done && replicas <= MAX_PROGRESS_BARS && line <= replicas;
      if (drawn && ((task.status?.err ?? "") !== "" || (!isTerminal(task.desiredState) && !isTerminal(task.status?.state ?? 0)))) {
        taskLine(this.out, `${line}/${replicas}`, task, SERVICE_PROGRESS_TOTAL);
      }
    }
    if (!this.done) {
      overall(this.out, running, replicas, poll.rollback);
      if (running === replicas) this.done = true;
    }
    const stuck = chosen.length >= replicas ? blockers(this.judge.verdicts(poll, chosen, slotOf)) : undefined;
    return { converged: running === replicas, stuck };
  }
}

class GlobalProgress implements ProgressUpdater {
  private initialized = false;
  private done = false;
  private readonly judge: Judge;

  constructor(
    private readonly out: ProgressWriter,
    stallMs: number,
  ) {
    this.judge = new Judge(stallMs, false);
  }

  update(poll: Poll): PollResult {
    const nodeOf = (t: Task) => t.nodeId;
    const chosen = byKey(pickLowestDesired(poll.tasks, nodeOf)) as [string, Task][];
    const nodeCount = chosen.length;
    if (!this.initialized) {
      if (nodeCount === 0) {
        this.out.update("overall progress", "waiting for new tasks");
        return { converged: false };
      }
      overall(this.out, 0, nodeCount, poll.rollback);
      this.initialized = true;
    }
    if (this.done && chosen.some(([, t]) => t.status?.state !== TaskState.TASK_STATE_RUNNING)) this.done = false;
    let running = 0;
    const active = chosen.filter(([node]) => poll.activeNodes.has(node));
    for (const [node, task] of active) {
      if (!isTerminal(task.desiredState) && task.status?.state === TaskState.TASK_STATE_RUNNING) running++;
      const drawn = !this.done && nodeCount <= MAX_PROGRESS_BARS;
      if (drawn && ((task.status?.err ?? "") !== "" || (!isTerminal(task.desiredState) && !isTerminal(task.status?.state ?? 0)))) {
        taskLine(this.out, node.slice(0, SHORT_ID), task, SERVICE_PROGRESS_TOTAL);
      }
    }
    if (!this.done) {
      overall(this.out, running, nodeCount, poll.rollback);
      if (running === nodeCount) this.done = true;
    }
    return { converged: running === nodeCount, stuck: blockers(this.judge.verdicts(poll, active, nodeOf)) };
  }
}

const digits = (n: number) => String(n).length;

class ReplicatedJobProgress implements ProgressUpdater {
  private initialized = false;
  private readonly judge: Judge;
  private readonly concurrent: number;
  private readonly total: number;

  constructor(
    private readonly out: ProgressWriter,
    service: Service,
    stallMs: number,
  ) {
    this.judge = new Judge(stallMs, true);
    const mode = service.spec?.mode;
    const job = mode?.$case === "replicatedJob" ? mode.replicatedJob : { maxConcurrent: 0, totalCompletions: 0 };
    this.concurrent = job.maxConcurrent || 1;
    this.total = job.totalCompletions || this.concurrent;
  }

  private overall(active: number, completed: number): void {
    this.out.update("job progress", `${String(completed).padStart(digits(this.total))} out of ${this.total} complete`, {
      current: completed,
      total: this.total,
    });
    const width = digits(this.concurrent);
    const wanted = Math.min(this.total - completed, this.concurrent);
    this.out.update("active tasks", `${String(active).padStart(width)} out of ${String(wanted).padStart(width)} tasks`);
  }

  update(poll: Poll): PollResult {
    if (!this.initialized) {
      this.overall(0, 0);
      if (this.total <= MAX_PROGRESS_BARS) for (let i = 1; i <= this.total; i++) this.out.update(`${i}/${this.total}`, " ");
      this.initialized = true;
    }
    const slotOf = (t: Task) => t.slot;
    const chosen = byKey(pickLowestObserved(poll.tasks, slotOf)) as [number, Task][];
    let active = 0;
    let complete = 0;
    for (const [slot, task] of chosen) {
      if (this.total <= MAX_PROGRESS_BARS) taskLine(this.out, `${slot}/${this.total}`, task, JOB_PROGRESS_TOTAL);
      if (observed(task) < stateOrdinal(TaskState.TASK_STATE_COMPLETE)) active++;
      if (task.status?.state === TaskState.TASK_STATE_COMPLETE) complete++;
    }
    this.overall(active, complete);
    return { converged: complete === this.total, stuck: blockers(this.judge.verdicts(poll, chosen, slotOf)) };
  }
}

class GlobalJobProgress implements ProgressUpdater {
  private nodes: ReadonlySet<string> | undefined;
  private readonly judge: Judge;

  constructor(
    private readonly out: ProgressWriter,
    stallMs: number,
  ) {
    this.judge = new Judge(stallMs, true);
  }

  private overall(complete: number, total: number): void {
    this.out.update("job progress", `${String(complete).padStart(digits(total))} out of ${total} complete`, { current: complete, total });
  }

  update(poll: Poll): PollResult {
    if (!this.nodes) {
      if (poll.tasks.length === 0 && poll.activeNodes.size !== 0) {
        this.out.update("job progress", "waiting for tasks");
        return { converged: false };
      }
      // Progress follows the nodes the job started on; nodes that join later are left out.
      this.nodes = new Set(poll.tasks.map((t) => t.nodeId));
      this.overall(0, this.nodes.size);
    }
    const nodes = this.nodes;
    const nodeOf = (t: Task) => t.nodeId;
    const chosen = byKey(pickLowestObserved(poll.tasks.filter((t) => nodes.has(t.nodeId)), nodeOf)) as [string, Task][];
    let complete = 0;
    for (const [node, task] of chosen) {
      if (nodes.size <= MAX_PROGRESS_BARS) taskLine(this.out, node, task, JOB_PROGRESS_TOTAL);
      if (task.status?.state === TaskState.TASK_STATE_COMPLETE) complete++;
    }
    this.overall(complete, nodes.size);
    return { converged: complete === nodes.size, stuck: blockers(this.judge.verdicts(poll, chosen, nodeOf)) };
  }
}

/** The updater for the service's mode. */
export function progressUpdater(service: Service, out: ProgressWriter, stallMs: number): ProgressUpdater {
  switch (service.spec?.mode?.$case) {
    case "global":
      return new GlobalProgress(out, stallMs);
    case "replicatedJob":
      return new ReplicatedJobProgress(out, service, stallMs);
    case "globalJob":
      return new GlobalJobProgress(out, stallMs);
    default:
      return new ReplicatedProgress(out, stallMs);
  }
}
