// TaskController: drives one task's container through the agent's part of the task life cycle,
//
//   ACCEPTED → PREPARING → READY → STARTING → RUNNING → COMPLETE | FAILED | SHUTDOWN  (or REJECTED)
//
// honouring the task's desired state, as SwarmKit's `exec.Do` (agent/exec/controller.go) does: one
// step at a time, each step either calling the executor once or moving one state. PREPARING and
// STARTING and RUNNING proceed on their own; ACCEPTED and READY wait until the desired state is
// beyond them (desired READY is the restart-delay gate). Desired SHUTDOWN (or REMOVE) stops the
// container and reports SHUTDOWN unless the task already stopped; REMOVE also removes the container,
// after which the controller ends. The observed state never moves backwards.
//
// Container events (`onChange`) and the outstanding `wait()` wake the loop, so exits and health
// changes are noticed at once; nothing polls. A controller created for a task that got as far as
// PREPARING looks for its container first and adopts it: a running container is never started
// again. An earlier task has no container of this agent's making, save one made just before a crash
// and never reported; the executor's prepare adopts that one and its start leaves it running.
import type { Task } from "../../proto/gen/objects.js";
import { TaskState, type ContainerStatus as TaskContainerStatus, type TaskStatus } from "../../proto/gen/types.js";
import type { ContainerController, ContainerStatus } from "../executor/executor.js";
import { systemClock, type Clock } from "./clock.js";
import type { Limiter } from "./limiter.js";
import {
  TASK_MESSAGE,
  UNHEALTHY_CAUSE,
  copyStatus,
  errorMessage,
  exitErrorMessage,
  isTemporaryError,
  isTerminal,
} from "./status.js";

const S = TaskState;

/** SwarmKit's task manager waits 1 s before retrying a step that failed temporarily. */
export const DEFAULT_RETRY_DELAY_MS = 1_000;

/** Options of a {@link TaskController}. */
export interface TaskControllerOptions {
  /** The task as assigned; `task.status` is where the controller starts (the stored status after a restart). */
  task: Task;
  /** The executor's controller of this task's container. */
  container: ContainerController;
  /** Called with every new status, in order, synchronously from the controller's loop. */
  onStatus: (status: TaskStatus) => void;
  /** Stamps statuses and times retries. Default: the system clock. */
  clock?: Clock;
  /**
   * Shared bound on containers being brought up: a slot is taken for `prepare` and, when the task
   * is to run at once, kept through `start` (as `docker run` does one container after another);
   * a task held at READY gives it back after `prepare`. Default: unbounded.
   */
  bringUpLimiter?: Limiter;
  /** Delay before retrying a step that failed with a temporary error. Default 1000 ms. */
  retryDelayMs?: number;
  /** Errors that are not the task's: a callback that threw, a failed removal. Default: ignored. */
  onError?: (err: unknown) => void;
}

/** How a controller's loop ended: its container was removed (desired REMOVE), or `close()`. */
export type TaskControllerEnd = "removed" | "closed";

type Step = "progress" | "idle" | "retry" | "removed";

function exited(state: string): boolean {
  return state === "exited" || state === "dead";
}

function alive(state: string): boolean {
  return state === "running" || state === "paused" || state === "restarting";
}

/** Drives one task; see the file comment. Create, then `start()`; feed assignment changes to `update()`. */
export class TaskController {
  /** The task's id. */
  readonly taskId: string;
  /** Resolves when the loop ends (never rejects). */
  readonly done: Promise<TaskControllerEnd>;

  #task: Task;
  #status: TaskStatus;
  readonly #ctl: ContainerController;
  readonly #onStatus: (status: TaskStatus) => void;
  readonly #clock: Clock;
  readonly #limiter: Limiter | undefined;
  readonly #retryDelayMs: number;
  readonly #onError: (err: unknown) => void;
  #resolveDone!: (end: TaskControllerEnd) => void;

  /** The container as last seen (inspect, events). */
  #container: ContainerStatus | null = null;
  /** The container's final status, once it exited. Final: later events never undo it. */
  #exit: ContainerStatus | null = null;
  /** start() was issued (or the container was found started): never start it again. */
  #started = false;
  /** The healthcheck failed and the container was stopped: its exit fails the task. */
  #unhealthy = false;
  #waiting = false;
  #waitError: unknown = null;
  readonly #waitAbort = new AbortController();
  /** The bring-up slot kept from prepare to start (see bringUpLimiter). */
  #slot: (() => void) | null = null;
  /** Aborts the outstanding prepare when the task is to stop. */
  #op: AbortController | null = null;
  #wake: (() => void) | null = null;
  #kicked = false;
  #loopStarted = false;
  #closed = false;
  #unsubscribe: (() => void) | null = null;

  constructor(opts: TaskControllerOptions) {
    this.taskId = opts.task.id;
    this.#task = opts.task;
    this.#status = opts.task.status
      ? copyStatus(opts.task.status)
      : { timestampUnixMs: 0, state: S.TASK_STATE_NEW, message: "", err: "", container: undefined, portStatus: undefined, appliedBy: "", appliedAtUnixMs: 0 };
    this.#ctl = opts.container;
    this.#onStatus = opts.onStatus;
    this.#clock = opts.clock ?? systemClock;
    this.#limiter = opts.bringUpLimiter;
    this.#retryDelayMs = opts.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.#onError = opts.onError ?? (() => {});
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** The latest assignment of the task (its desired state). */
  get task(): Task {
    return this.#task;
  }

  /** The task's observed status now (a copy). */
  get status(): TaskStatus {
    return copyStatus(this.#status);
  }

  /** Starts driving the task (once). */
  start(): void {
    if (this.#loopStarted || this.#closed) return;
    this.#loopStarted = true;
    void this.#run();
  }

  /**
   * A new assignment of the task. Only the desired state matters (a task's spec never changes); a
   * desired state lower than the current one is ignored, as SwarmKit's task manager does. Desired
   * SHUTDOWN or REMOVE aborts a prepare in progress.
   */
  update(task: Task): void {
    if (task.id !== this.taskId) throw new Error(`task controller of ${this.taskId} got an update for task ${task.id}`);
    if (task.desiredState < this.#task.desiredState) return;
    const wasStopping = this.#task.desiredState >= S.TASK_STATE_SHUTDOWN;
    this.#task = task;
    if (!wasStopping && task.desiredState >= S.TASK_STATE_SHUTDOWN) this.#op?.abort();
    this.#kick();
  }

  /**
   * Stops driving the task without touching its container (the agent is stopping, or the task was
   * unassigned and the caller cleans up). No status is reported after close() is called.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#op?.abort();
    this.#waitAbort.abort();
    this.#kick();
    if (!this.#loopStarted) {
      this.#release();
      this.#resolveDone("closed");
    }
    await this.done;
  }

  async #run(): Promise<void> {
    let end: TaskControllerEnd = "closed";
    try {
      if (!isTerminal(this.#status.state)) {
        this.#unsubscribe = this.#ctl.onChange((s) => this.#observe(s, true));
        if (this.#task.desiredState < S.TASK_STATE_SHUTDOWN && this.#status.state >= S.TASK_STATE_PREPARING) await this.#recover();
      }
      while (!this.#closed) {
        let r: Step;
        try {
          r = await this.#step();
        } catch (err) {
          this.#onError(err);
          r = "retry";
        }
        if (r === "removed") {
          end = "removed";
          break;
        }
        if (r === "idle") await this.#sleep();
        else if (r === "retry") await this.#sleep(this.#retryDelayMs);
      }
    } finally {
      this.#release();
      this.#resolveDone(end);
    }
  }

  /** Adopts an existing container: a running one is RUNNING (or STARTING until healthy), never restarted. */
  async #recover(): Promise<void> {
    let cs: ContainerStatus | null;
    try {
      cs = await this.#ctl.inspect();
    } catch {
      return; // the steps meet the engine's error themselves
    }
    if (!cs || this.#closed) return;
    this.#observe(cs, false);
    const s = this.#status.state;
    if (this.#exit) {
      this.#started = true;
      // It ran while the agent was away; STARTING and RUNNING steps settle it, earlier states here.
      if (s < S.TASK_STATE_STARTING) this.#finishExit();
      return;
    }
    if (!alive(cs.state)) return; // created (or nothing): the normal steps go on from the stored state
    this.#started = true;
    this.#ensureWaiting();
    if (s >= S.TASK_STATE_RUNNING) return;
    if (cs.health === "starting" || cs.health === "unhealthy") {
      this.#transition(S.TASK_STATE_STARTING, TASK_MESSAGE.starting);
    } else {
      this.#transition(S.TASK_STATE_RUNNING, TASK_MESSAGE.started);
    }
  }

  /** One operation or one state change (SwarmKit's exec.Do). */
  async #step(): Promise<Step> {
    const s = this.#status.state;
    const desired = this.#task.desiredState;

    if (desired >= S.TASK_STATE_SHUTDOWN) {
      this.#releaseSlot();
      if (s < S.TASK_STATE_COMPLETE) {
        try {
          await this.#ctl.shutdown();
        } catch (err) {
          return this.#fatal(err);
        }
        await this.#refresh();
        return this.#transition(S.TASK_STATE_SHUTDOWN, TASK_MESSAGE.shutdown);
      }
      if (desired < S.TASK_STATE_REMOVE) return "idle";
      try {
        await this.#ctl.remove();
      } catch (err) {
        if (isTemporaryError(err) && !this.#closed) return "retry";
        this.#onError(err); // the worker's sweep of unassigned containers tries again later
      }
      return "removed";
    }

    if (isTerminal(s) || s > desired) return "idle";
    switch (s) {
      case S.TASK_STATE_PREPARING:
        return this.#prepare();
      case S.TASK_STATE_STARTING:
        return this.#starting();
      case S.TASK_STATE_RUNNING:
        return this.#running();
    }
    // ACCEPTED and READY wait here until the desired state is beyond them.
    if (s >= desired) return "idle";
    if (s < S.TASK_STATE_ACCEPTED) return this.#transition(S.TASK_STATE_ACCEPTED, TASK_MESSAGE.accepted);
    if (s === S.TASK_STATE_ACCEPTED) return this.#transition(S.TASK_STATE_PREPARING, TASK_MESSAGE.preparing);
    if (s === S.TASK_STATE_READY) return this.#transition(S.TASK_STATE_STARTING, TASK_MESSAGE.starting);
    return "idle";
  }

  async #prepare(): Promise<Step> {
    const op = new AbortController();
    this.#op = op;
    try {
      if (this.#limiter) this.#slot = await this.#limiter.acquire(op.signal);
      await this.#ctl.prepare(op.signal);
    } catch (err) {
      this.#releaseSlot();
      if (op.signal.aborted) return "progress"; // the task is to stop, or the controller closed
      return this.#fatal(err);
    } finally {
      if (this.#op === op) this.#op = null;
    }
    // No look at the created container: nothing before the start needs it, and the engine is busiest
    // while containers are brought up (the look after start gives the id, pid and health).
    if (this.#task.desiredState <= S.TASK_STATE_READY) this.#releaseSlot(); // held at its gate: no start soon
    return this.#transition(S.TASK_STATE_READY, TASK_MESSAGE.prepared);
  }

  #releaseSlot(): void {
    const release = this.#slot;
    this.#slot = null;
    release?.();
  }

  async #starting(): Promise<Step> {
    if (!this.#started) {
      try {
        await this.#ctl.start();
      } catch (err) {
        return this.#fatal(err);
      } finally {
        this.#releaseSlot();
      }
      this.#started = true;
      this.#ensureWaiting();
      await this.#refresh();
    }
    if (this.#exit) {
      // Exited before it became healthy: non-zero fails now; zero runs, then completes (as docker).
      if ((this.#exit.exitCode ?? 0) === 0 && !this.#unhealthy) return this.#transition(S.TASK_STATE_RUNNING, TASK_MESSAGE.started);
      return this.#finishExit();
    }
    if (this.#waitError !== null) return this.#waitFailed();
    const health = this.#container?.health;
    if (health === "unhealthy" || this.#unhealthy) return this.#stopUnhealthy();
    if (health === "starting") return "idle"; // RUNNING only once healthy
    return this.#transition(S.TASK_STATE_RUNNING, TASK_MESSAGE.started);
  }

  async #running(): Promise<Step> {
    if (this.#exit) return this.#finishExit();
    if (this.#waitError !== null) return this.#waitFailed();
    this.#ensureWaiting();
    if (this.#container?.health === "unhealthy" || this.#unhealthy) return this.#stopUnhealthy();
    return "idle";
  }

  /** Docker's executor stops a container whose healthcheck fails; its exit then fails the task. */
  async #stopUnhealthy(): Promise<Step> {
    if (!this.#unhealthy) {
      this.#unhealthy = true;
      try {
        await this.#ctl.shutdown();
      } catch (err) {
        return this.#fatal(err);
      }
    }
    return this.#exit ? "progress" : "idle";
  }

  #waitFailed(): Step {
    const err = this.#waitError;
    this.#waitError = null;
    return this.#fatal(err);
  }

  /** The container exited: COMPLETE with 0, else FAILED with docker's words and the exit code. */
  #finishExit(): Step {
    const exit = this.#exit!;
    const code = exit.exitCode ?? 0;
    if (code === 0 && !this.#unhealthy) return this.#transition(S.TASK_STATE_COMPLETE, TASK_MESSAGE.finished);
    const cause = this.#unhealthy ? UNHEALTHY_CAUSE : exit.error;
    const err = code === 0 ? UNHEALTHY_CAUSE : exitErrorMessage(code, cause);
    return this.#transition(S.TASK_STATE_FAILED, this.#status.message, err);
  }

  /**
   * An executor error: temporary ones are retried; otherwise the task fails, REJECTED before
   * STARTING and FAILED from STARTING on (SwarmKit's `fatal`), keeping its message.
   */
  #fatal(err: unknown): Step {
    if (this.#closed) return "progress";
    if (isTemporaryError(err)) return "retry";
    const state = this.#status.state < S.TASK_STATE_STARTING ? S.TASK_STATE_REJECTED : S.TASK_STATE_FAILED;
    return this.#transition(state, this.#status.message, errorMessage(err));
  }

  /** Moves forward to `state` and reports it; a state not above the current one is dropped. */
  #transition(state: TaskState, message: string, err = ""): Step {
    if (this.#closed || state <= this.#status.state) return "progress";
    this.#status = {
      timestampUnixMs: this.#clock.now(),
      state,
      message,
      err,
      container: state >= S.TASK_STATE_STARTING ? this.#containerStatus() : undefined,
      portStatus: this.#status.portStatus,
      appliedBy: "",
      appliedAtUnixMs: 0,
    };
    if (isTerminal(state)) this.#release();
    try {
      this.#onStatus(copyStatus(this.#status));
    } catch (e) {
      this.#onError(e);
    }
    return "progress";
  }

  #containerStatus(): TaskContainerStatus | undefined {
    const c = this.#exit ?? this.#container;
    const id = c?.containerId || this.#status.container?.containerId || "";
    if (!c && !id) return undefined;
    return {
      containerId: id,
      pid: c && !this.#exit && alive(c.state) ? (c.pid ?? 0) : 0,
      exitCode: this.#exit?.exitCode ?? 0,
    };
  }

  /** Records what the engine says. An exit is final; a healthcheck never goes back to "starting". */
  #observe(cs: ContainerStatus, wake: boolean): void {
    if (this.#exit) return;
    if (exited(cs.state) && cs.exitCode !== undefined) this.#exit = cs;
    const prev = this.#container;
    this.#container = cs.health === "starting" && prev?.health && prev.health !== "starting" ? { ...cs, health: prev.health } : cs;
    if (wake) this.#kick();
  }

  async #refresh(): Promise<void> {
    try {
      const cs = await this.#ctl.inspect();
      if (cs) this.#observe(cs, false);
    } catch {
      // the container status is informative here; the next step meets a real failure
    }
  }

  /** Keeps one wait() outstanding while the container may run: its end is the exit. */
  #ensureWaiting(): void {
    if (this.#waiting || this.#exit || this.#waitAbort.signal.aborted) return;
    this.#waiting = true;
    const signal = this.#waitAbort.signal;
    this.#ctl.wait(signal).then(
      (cs) => {
        this.#waiting = false;
        if (signal.aborted) return;
        this.#observe({ ...cs, state: exited(cs.state) ? cs.state : "exited", exitCode: cs.exitCode ?? 0 }, true);
      },
      (err: unknown) => {
        this.#waiting = false;
        if (signal.aborted) return;
        this.#waitError = err;
        this.#kick();
      },
    );
  }

  /** Stops listening to the container and gives back a bring-up slot (terminal state, or the loop ended). */
  #release(): void {
    this.#releaseSlot();
    this.#waitAbort.abort();
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = null;
    unsubscribe?.();
  }

  #sleep(ms?: number): Promise<void> {
    if (this.#kicked || this.#closed) {
      this.#kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = ms === undefined ? null : this.#clock.setTimer(() => this.#kick(), ms);
      this.#wake = () => {
        this.#wake = null;
        timer?.cancel();
        resolve();
      };
    });
  }

  #kick(): void {
    if (this.#wake) this.#wake();
    else this.#kicked = true;
  }
}
