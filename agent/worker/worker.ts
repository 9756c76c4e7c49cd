// The Worker: everything between "these are my assigned tasks" and the executor. It keeps one
// TaskController per assigned task, feeds it assignment changes, persists tasks and statuses in a
// local level db, reports status changes, and removes the containers of tasks no longer assigned.
//
//   assignments (complete | incremental) ─▶ secrets/configs in memory ─▶ tasks: new ▶ controller
//        │                                                              known ▶ controller.update
//        └─ unassigned ▶ close controller, shutdown + remove container, forget (db)
//   controller status ─▶ db (status/<id>) ─▶ report(updates) (coalesced per task, batched)
//   open() ─▶ db tasks ▶ controllers that adopt running containers (never restarted) ▶ report all
//
// Tasks keep running while no manager is reachable: nothing here depends on the session, and a
// failed report is re-sent by reportAll() after a reconnect. Secrets and configs are held in memory
// only (SwarmKit's agent/secrets), so a restarted agent that has not heard from a manager yet cannot
// prepare a task that needs them: such a task waits for the next assignments set.
import { EventEmitter } from "node:events";
import { Task, type Config, type Secret } from "../../proto/gen/objects.js";
import { TaskState, type TaskStatus } from "../../proto/gen/types.js";
import type { ContainerController, Executor } from "../executor/executor.js";
import { systemClock, type Clock } from "../task/clock.js";
import { Limiter } from "../task/limiter.js";
import { copyStatus, errorMessage } from "../task/status.js";
import { TaskController } from "../task/task-controller.js";
import { dependencyIds, resolveDependencies, type Assignments, type ReportStatuses, type TaskStatusUpdate } from "./assignments.js";
import { StatusReporter } from "./reporter.js";
import { TaskDb, type TaskStore } from "./task-db.js";

/** Containers being brought up (image pulled, created, started) at once: see TaskController's bringUpLimiter. */
export const DEFAULT_MAX_CONCURRENT_BRING_UPS = 4;

/** Options of {@link Worker.open}. */
export interface WorkerOptions {
  /** The local database's directory, e.g. `<data-dir>/agent/db` (created if missing). */
  dbPath?: string;
  /** Instead of `dbPath`: a store of the caller's (a MemoryTaskStore in simulations). Closed by close(). */
  store?: TaskStore;
  executor: Executor;
  /** Sends status updates to the managers; the session batches them. */
  report: ReportStatuses;
  /** Stamps statuses and times retries. Default: the system clock. */
  clock?: Clock;
  /** Default {@link DEFAULT_MAX_CONCURRENT_BRING_UPS}. */
  maxConcurrentBringUps?: number;
  /** Delay before retrying a step that failed temporarily. Default 1000 ms. */
  retryDelayMs?: number;
}

/** Events of a {@link Worker}. */
export interface WorkerEvents {
  /** A task's status changed (already persisted and queued for reporting). */
  status: [taskId: string, status: TaskStatus];
  /** Something failed that is not a task's failure: a db write, a report, a container cleanup. */
  warning: [err: Error];
}

interface Entry {
  /** The latest assignment (its `status` left out). */
  task: Task;
  /** The task's latest status. */
  status: TaskStatus;
  /** Null while the task waits for its secrets/configs after a restart. */
  controller: TaskController | null;
}

const NO_DEPENDENCIES = { secrets: [], configs: [] };

function newStatus(): TaskStatus {
  return { timestampUnixMs: 0, state: TaskState.TASK_STATE_NEW, message: "", err: "", container: undefined, portStatus: undefined, appliedBy: "", appliedAtUnixMs: 0 };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A container controller whose prepare fails with `message` (a secret or config the task needs is missing). */
function failingPrepare(c: ContainerController, message: string): ContainerController {
  return {
    prepare: () => Promise.reject(new Error(message)),
    start: () => c.start(),
    wait: (signal) => c.wait(signal),
    shutdown: () => c.shutdown(),
    remove: () => c.remove(),
    inspect: () => c.inspect(),
    onChange: (listener) => c.onChange(listener),
  };
}

/**
 * Stands in for a controller the executor could not make (SwarmKit's failed `exec.Resolve`): the
 * task is REJECTED before it started and FAILED after, with the executor's error.
 */
function unresolved(message: string): ContainerController {
  const fail = () => Promise.reject(new Error(message));
  return {
    prepare: fail,
    start: fail,
    wait: fail,
    shutdown: () => Promise.resolve(),
    remove: () => Promise.resolve(),
    inspect: () => Promise.resolve(null),
    onChange: () => () => {},
  };
}

/** Runs this node's assigned tasks; see the file comment. Create with {@link Worker.open}. */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly #executor: Executor;
  readonly #db: TaskStore;
  readonly #report: ReportStatuses;
  readonly #reporter: StatusReporter;
  readonly #clock: Clock;
  readonly #limiter: Limiter;
  readonly #retryDelayMs: number | undefined;
  readonly #entries = new Map<string, Entry>();
  /** In memory only, never written anywhere. */
  readonly #secrets = new Map<string, Secret>();
  readonly #configs = new Map<string, Config>();
  /** Containers being shut down and removed, by task id. */
  readonly #cleaning = new Map<string, Promise<void>>();
  #assigning: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(opts: WorkerOptions, db: TaskStore) {
    super();
    this.#executor = opts.executor;
    this.#db = db;
    this.#report = opts.report;
    this.#reporter = new StatusReporter(opts.report, (err) => this.#warn(err));
    this.#clock = opts.clock ?? systemClock;
    this.#limiter = new Limiter(opts.maxConcurrentBringUps ?? DEFAULT_MAX_CONCURRENT_BRING_UPS);
    this.#retryDelayMs = opts.retryDelayMs;
  }

  /**
   * Opens the database, resumes every stored task (adopting its container: a running one is
   * kept, not restarted) and reports every stored status once.
   */
  static async open(opts: WorkerOptions): Promise<Worker> {
    const holder: { worker?: Worker } = {};
    let db: TaskStore;
    if (opts.store) db = opts.store;
    else if (opts.dbPath) db = await TaskDb.open(opts.dbPath, (err) => holder.worker?.emit("warning", asError(err)));
    else throw new Error("a worker needs a dbPath or a store");
    const worker = (holder.worker = new Worker(opts, db));
    for (const { task, status } of await db.load()) {
      const entry: Entry = { task: { ...task, status: undefined }, status: status ?? task.status ?? newStatus(), controller: null };
      worker.#entries.set(task.id, entry);
      if (!worker.#waitsForDependencies(entry)) worker.#startController(entry);
    }
    for (const [taskId, e] of worker.#entries) worker.#reporter.push(taskId, copyStatus(e.status));
    return worker;
  }

  /**
   * Applies one assignments message (see {@link Assignments}). Calls are applied one at a time in
   * call order. Resolves once the controllers have their new assignments (not when tasks reach a
   * state); after a complete set, also once the executor's containers of unassigned tasks are
   * found (their removal goes on in the background: see flush()).
   */
  assign(set: Assignments): Promise<void> {
    const run = this.#assigning.then(() => this.#apply(set));
    this.#assigning = run.catch(() => {});
    return run;
  }

  /** Reports every known task's status again (after a reconnect). Rejects when the report does. */
  async reportAll(): Promise<void> {
    const updates: TaskStatusUpdate[] = [...this.#entries].map(([taskId, e]) => ({ taskId, status: copyStatus(e.status) }));
    if (updates.length > 0) await this.#report(updates);
  }

  /** A task's latest status, or undefined when the task is not known. */
  status(taskId: string): TaskStatus | undefined {
    const e = this.#entries.get(taskId);
    return e ? copyStatus(e.status) : undefined;
  }

  /** Every known task's latest status. */
  statuses(): Map<string, TaskStatus> {
    return new Map([...this.#entries].map(([id, e]) => [id, copyStatus(e.status)]));
  }

  /** Resolves once pending assignments, container removals, db writes and reports have settled. */
  async flush(): Promise<void> {
    await this.#assigning;
    while (this.#cleaning.size > 0) await Promise.all(this.#cleaning.values());
    await this.#db.flush();
    await this.#reporter.idle();
  }

  /**
   * Stops driving tasks and closes the database. Containers keep running; a new Worker on the
   * same database adopts them.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#assigning;
    await Promise.all([...this.#entries.values()].map((e) => e.controller?.close()));
    while (this.#cleaning.size > 0) await Promise.all(this.#cleaning.values());
    await this.#db.close();
  }

  async #apply(set: Assignments): Promise<void> {
    if (this.#closed) throw new Error("the worker is closed");
    const complete = set.type === "complete";
    // Secrets and configs first: the tasks of this set may need them.
    if (complete) {
      this.#secrets.clear();
      this.#configs.clear();
    } else {
      for (const id of set.removedSecretIds) this.#secrets.delete(id);
      for (const id of set.removedConfigIds) this.#configs.delete(id);
    }
    for (const s of set.secrets) this.#secrets.set(s.id, s);
    for (const c of set.configs) this.#configs.set(c.id, c);

    const assigned = new Set<string>();
    for (const task of set.tasks) {
      assigned.add(task.id);
      this.#assignTask(task);
    }
    const removed = complete ? [...this.#entries.keys()].filter((id) => !assigned.has(id)) : set.removedTaskIds;
    for (const id of removed) this.#unassign(id);
    if (complete) await this.#sweep();
  }

  #assignTask(task: Task): void {
    const t: Task = { ...task, status: undefined };
    const e = this.#entries.get(task.id);
    if (!e) {
      // Never seen (or forgotten): start from the manager's status, as SwarmKit's worker does.
      const entry: Entry = { task: t, status: task.status ? copyStatus(task.status) : newStatus(), controller: null };
      this.#entries.set(task.id, entry);
      this.#db.putTask(t);
      this.#db.putStatus(task.id, entry.status);
      this.#startController(entry);
      return;
    }
    if (t.desiredState > e.task.desiredState) {
      e.task = t;
      this.#db.putTask(t);
    }
    if (e.controller) e.controller.update(t);
    else this.#startController(e); // it waited for its secrets/configs
  }

  /** After a restart, a task that still has to be prepared waits for the secrets/configs it needs. */
  #waitsForDependencies(e: Entry): boolean {
    if (e.status.state >= TaskState.TASK_STATE_STARTING || e.task.desiredState >= TaskState.TASK_STATE_SHUTDOWN) return false;
    const { secretIds, configIds } = dependencyIds(e.task);
    return secretIds.length + configIds.length > 0 && resolveDependencies(e.task, this.#secrets, this.#configs).missing !== null;
  }

  #startController(entry: Entry): void {
    const id = entry.task.id;
    const { deps, missing } = resolveDependencies(entry.task, this.#secrets, this.#configs);
    let container: ContainerController;
    try {
      container = this.#executor.controller(entry.task, deps);
      if (missing !== null) container = failingPrepare(container, missing);
    } catch (err) {
      container = unresolved(errorMessage(err));
    }
    const ctl: TaskController = new TaskController({
      task: { ...entry.task, status: entry.status },
      container,
      onStatus: (status) => {
        if (entry.controller !== ctl) return;
        entry.status = status;
        this.#db.putStatus(id, status);
        this.#reporter.push(id, status);
        this.emit("status", id, copyStatus(status));
      },
      clock: this.#clock,
      bringUpLimiter: this.#limiter,
      retryDelayMs: this.#retryDelayMs,
      onError: (err) => this.#warn(err),
    });
    entry.controller = ctl;
    void ctl.done.then((end) => {
      // Desired REMOVE: the container is gone; forget the task.
      if (end === "removed" && this.#entries.get(id) === entry && entry.controller === ctl) {
        this.#entries.delete(id);
        this.#db.delete(id);
      }
    });
    // A container of an earlier assignment of this task may still be being removed.
    const cleaning = this.#cleaning.get(id);
    if (cleaning) void cleaning.then(() => ctl.start());
    else ctl.start();
  }

  /** The task is no longer assigned: stop driving it, then shut down and remove its container. */
  #unassign(id: string): void {
    const e = this.#entries.get(id);
    if (!e) return;
    this.#entries.delete(id);
    this.#db.delete(id);
    this.#cleanup(e.task, e.controller);
  }

  /** Removes the containers of tasks this worker does not know (after a complete set). */
  async #sweep(): Promise<void> {
    let owned: Map<string, unknown>;
    try {
      owned = await this.#executor.owned();
    } catch (err) {
      this.#warn(err);
      return;
    }
    for (const id of owned.keys()) {
      if (!this.#entries.has(id) && !this.#cleaning.has(id)) this.#cleanup(Task.fromPartial({ id }), null);
    }
  }

  #cleanup(task: Task, controller: TaskController | null): void {
    const previous = this.#cleaning.get(task.id) ?? Promise.resolve();
    const run = previous.then(async () => {
      try {
        await controller?.close();
        const c = this.#executor.controller(task, NO_DEPENDENCIES);
        await c.shutdown();
        await c.remove();
      } catch (err) {
        this.#warn(err); // the next complete set's sweep tries again
      }
    });
    this.#cleaning.set(task.id, run);
    void run.then(() => {
      if (this.#cleaning.get(task.id) === run) this.#cleaning.delete(task.id);
    });
  }

  #warn(err: unknown): void {
    this.emit("warning", asError(err));
  }
}
