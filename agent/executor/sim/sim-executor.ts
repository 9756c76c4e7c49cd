// SimExecutor: an Executor without processes, for unit tests and scale tests (thousands of
// simulated agents in one process). A container is a small record that moves
//
//   (none) ─prepare─▶ created ─start─▶ running [health: starting ▶ healthy | unhealthy] ─▶ exited
//
// after configurable delays, with a configurable exit code, seeded random crashes, missing images
// and the stop/kill semantics of `docker stop` and `docker rm -f`. Every pending transition is one
// timer on the injected clock; nothing polls. A delay of 0 makes the transition at once.
//
// State lives in the executor, keyed by task id (as docker finds containers by name and labels),
// so a new agent (a new Worker) on the same SimExecutor finds the containers of the old one.
import type { Task } from "../../../proto/gen/objects.js";
import type {
  ContainerController,
  ContainerStatus,
  Executor,
  ExecutorDescription,
  LogLine,
  LogReadOptions,
  LogReader,
  TaskDependencies,
} from "../executor.js";
import { systemClock, type Clock, type Timer } from "../../task/clock.js";
import { seededRandom } from "./random.js";

/** How one simulated container behaves. */
export interface SimBehaviour {
  /** Time prepare() takes (image pull and create). Default 0. */
  prepareDelayMs: number;
  /** Time start() takes before the container runs. Default 0. */
  startDelayMs: number;
  /** How long it runs before exiting by itself with `exitCode`; null = until stopped. Default null. */
  runMs: number | null;
  /** Exit code when `runMs` elapses. Default 0. */
  exitCode: number;
  /** Healthcheck outcome; "none" = no healthcheck. Default "healthy" when the task's spec has a healthcheck, else "none". */
  health: "none" | "healthy" | "unhealthy";
  /** Time in health "starting" before the outcome. Default 0. */
  healthDelayMs: number;
  /** Time between the stop signal and the exit. Default 0. */
  stopDelayMs: number;
  /** Exit code after a stop (the signal or the grace-period SIGKILL). Default 137. */
  stopExitCode: number;
  /** prepare() fails with docker's "No such image: IMAGE". Default false. */
  missingImage: boolean;
}

/** Options of a {@link SimExecutor}. */
export interface SimExecutorOptions {
  /** Drives every delay. Default: the system clock. */
  clock?: Clock;
  /** Seed of the random source that picks crashing containers. Default 1. */
  seed?: number;
  /** Behaviour of every container, over the defaults. */
  defaults?: Partial<SimBehaviour>;
  /** Per-task behaviour, over `defaults` and the task's `sim.*` container labels. */
  behaviour?: (task: Task) => Partial<SimBehaviour>;
  /** Images that cannot be pulled (prepare fails, as for `missingImage`). */
  missingImages?: Iterable<string>;
  /** Chance in [0, 1] that a container crashes with `failureExitCode` after `failAfterMs` instead. Default 0. */
  failureRate?: number;
  /** Default 1. */
  failureExitCode?: number;
  /** Default 0 (crashes as soon as it starts). */
  failAfterMs?: number;
  /** Engine labels `describe()` reports. */
  engineLabels?: Record<string, string>;
}

/** Counts of engine operations that did something (idempotent no-ops are not counted). */
export interface SimStats {
  /** Containers created. */
  creates: number;
  /** Containers started. */
  starts: number;
  /** Stop requests that stopped a running container. */
  stops: number;
  /** Containers removed. */
  removes: number;
}

const DEFAULTS: SimBehaviour = {
  prepareDelayMs: 0,
  startDelayMs: 0,
  runMs: null,
  exitCode: 0,
  health: "none",
  healthDelayMs: 0,
  stopDelayMs: 0,
  stopExitCode: 137,
  missingImage: false,
};

/**
 * Container labels that set behaviour from a service spec (`--container-label sim.run-ms=500`):
 * sim.prepare-ms, sim.start-ms, sim.run-ms, sim.exit-code, sim.health, sim.health-ms, sim.stop-ms,
 * sim.stop-exit-code, sim.missing-image.
 */
export function behaviourFromLabels(labels: Record<string, string>): Partial<SimBehaviour> {
  const b: Partial<SimBehaviour> = {};
  const num = (key: string): number | undefined => {
    const v = labels[key];
    if (v === undefined || v === "" || !Number.isFinite(Number(v))) return undefined;
    return Number(v);
  };
  const set = <K extends keyof SimBehaviour>(k: K, v: SimBehaviour[K] | undefined) => {
    if (v !== undefined) b[k] = v;
  };
  set("prepareDelayMs", num("sim.prepare-ms"));
  set("startDelayMs", num("sim.start-ms"));
  set("runMs", num("sim.run-ms"));
  set("exitCode", num("sim.exit-code"));
  set("healthDelayMs", num("sim.health-ms"));
  set("stopDelayMs", num("sim.stop-ms"));
  set("stopExitCode", num("sim.stop-exit-code"));
  const h = labels["sim.health"];
  if (h === "none" || h === "healthy" || h === "unhealthy") b.health = h;
  if (labels["sim.missing-image"] === "true") b.missingImage = true;
  return b;
}

interface SimContainer {
  id: string;
  taskId: string;
  name: string;
  state: "created" | "running" | "exited";
  exitCode?: number;
  error?: string;
  health?: "starting" | "healthy" | "unhealthy";
  pid: number;
  startedAtUnixMs?: number;
  finishedAtUnixMs?: number;
  behaviour: SimBehaviour;
  /** Exits with failureExitCode after failAfterMs instead of its normal run. */
  crashes: boolean;
  /** The pending life-cycle transition (start, exit, stop), if any. */
  timer: Timer | null;
  /** The pending health transition, if any. */
  healthTimer: Timer | null;
  /** The stop signal was sent. */
  stopping: boolean;
  /** start() in progress (start delay), and what ends it. */
  starting: Promise<void> | null;
  startDone: (() => void) | null;
  /** Resolved when the container exits. */
  waiters: Array<() => void>;
  starts: number;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** The simulated executor; see the file comment. */
export class SimExecutor implements Executor, LogReader {
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #opts: SimExecutorOptions;
  readonly #missingImages: Set<string>;
  readonly #containers = new Map<string, SimContainer>();
  readonly #listeners = new Map<string, Set<(s: ContainerStatus) => void>>();
  readonly #stats: SimStats = { creates: 0, starts: 0, stops: 0, removes: 0 };
  #nextId = 1;
  #nextPid = 1000;
  #closed = false;

  constructor(opts: SimExecutorOptions = {}) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#random = seededRandom(opts.seed ?? 1);
    this.#missingImages = new Set(opts.missingImages ?? []);
  }

  async describe(): Promise<ExecutorDescription> {
    return { engine: { engineVersion: "sim", labels: { ...(this.#opts.engineLabels ?? {}) }, plugins: [] } };
  }

  controller(task: Task, _deps: TaskDependencies): ContainerController {
    return {
      prepare: (signal) => this.#prepare(task, signal),
      start: () => this.#start(task),
      wait: (signal) => this.#wait(task, signal),
      shutdown: () => this.#shutdown(task),
      remove: () => this.#remove(task),
      inspect: () => this.#inspect(task),
      onChange: (listener) => this.#onChange(task, listener),
    };
  }

  async owned(): Promise<Map<string, ContainerStatus>> {
    const out = new Map<string, ContainerStatus>();
    for (const [taskId, c] of this.#containers) out.set(taskId, statusOf(c));
    return out;
  }

  /**
   * A started container's output: {@link SIM_LOG_LINES} lines (see {@link simLogLines}), then with
   * `follow` nothing more until it exits or the signal aborts. None for a task without a started container.
   */
  async *logs(task: Task, options: LogReadOptions, signal: AbortSignal): AsyncGenerator<LogLine> {
    const c = this.#containers.get(task.id);
    if (!c || c.startedAtUnixMs === undefined) return;
    let lines = simLogLines(task.id, c.startedAtUnixMs).filter(
      (l) => (options.streams.length === 0 || options.streams.includes(l.stream)) && Date.parse(l.timestamp) >= options.sinceUnixMs,
    );
    if (options.tail >= 0) lines = lines.slice(Math.max(0, lines.length - options.tail));
    for (const l of lines) {
      if (signal.aborted) return;
      yield l;
    }
    if (!options.follow || c.state === "exited" || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const onExit = (): void => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = c.waiters.indexOf(onExit);
        if (i >= 0) c.waiters.splice(i, 1);
        resolve();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      c.waiters.push(onExit);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const c of this.#containers.values()) {
      c.timer?.cancel();
      c.healthTimer?.cancel();
      c.timer = c.healthTimer = null;
    }
  }

  /** Counts of what the engine did. */
  stats(): SimStats {
    return { ...this.#stats };
  }

  /** The container of a task now, or null. */
  container(taskId: string): ContainerStatus | null {
    const c = this.#containers.get(taskId);
    return c ? statusOf(c) : null;
  }

  /** How many times the task's current container was started (0 when there is none). */
  startCount(taskId: string): number {
    return this.#containers.get(taskId)?.starts ?? 0;
  }

  /** Makes a running container exit now (a crash, an OOM kill). No effect on others. */
  kill(taskId: string, exitCode = 137, error?: string): void {
    const c = this.#containers.get(taskId);
    if (c?.state === "running") this.#exit(c, exitCode, error);
  }

  /** Sets a running container's health now (emits a change). */
  setHealth(taskId: string, health: "starting" | "healthy" | "unhealthy"): void {
    const c = this.#containers.get(taskId);
    if (c?.state !== "running") return;
    c.healthTimer?.cancel();
    c.healthTimer = null;
    c.health = health;
    this.#emit(c);
  }

  // ----- one task's ContainerController -----

  async #prepare(task: Task, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#containers.has(task.id)) return; // adopt
    const b = this.behaviourOf(task);
    if (b.prepareDelayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = this.#clock.setTimer(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        }, b.prepareDelayMs);
        const onAbort = () => {
          timer.cancel();
          reject(abortError(signal));
        };
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
    if (this.#containers.has(task.id)) return;
    const image = imageOf(task);
    if (b.missingImage || this.#missingImages.has(image)) throw new Error(`No such image: ${image}`);
    this.#create(task, b);
  }

  async #start(task: Task): Promise<void> {
    const c = this.#mustGet(task);
    if (c.starting) return c.starting;
    if (c.state !== "created") return;
    if (c.behaviour.startDelayMs <= 0) {
      this.#run(c);
      return;
    }
    c.starting = new Promise<void>((resolve) => {
      c.startDone = () => {
        c.timer?.cancel();
        c.timer = null;
        c.starting = null;
        c.startDone = null;
        resolve();
      };
      c.timer = this.#clock.setTimer(() => {
        c.timer = null;
        c.startDone?.();
        if (this.#containers.get(c.taskId) === c && c.state === "created") this.#run(c);
      }, c.behaviour.startDelayMs);
    });
    return c.starting;
  }

  async #wait(task: Task, signal: AbortSignal): Promise<ContainerStatus> {
    signal.throwIfAborted();
    const c = this.#mustGet(task);
    if (c.state !== "exited") {
      await new Promise<void>((resolve, reject) => {
        const onExit = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = c.waiters.indexOf(onExit);
          if (i >= 0) c.waiters.splice(i, 1);
          reject(abortError(signal));
        };
        signal.addEventListener("abort", onAbort, { once: true });
        c.waiters.push(onExit);
      });
    }
    return statusOf(c);
  }

  async #shutdown(task: Task): Promise<void> {
    const c = this.#containers.get(task.id);
    if (!c) return;
    if (c.starting) await c.starting;
    if (c.state !== "running") return;
    if (c.stopping) return this.#untilExit(c);
    c.stopping = true;
    this.#stats.stops++;
    if (c.behaviour.stopDelayMs <= 0) {
      this.#exit(c, c.behaviour.stopExitCode);
      return;
    }
    // The stop signal is sent; the container exits after stopDelayMs (before any later natural exit).
    c.timer?.cancel();
    c.timer = this.#clock.setTimer(() => {
      c.timer = null;
      this.#exit(c, c.behaviour.stopExitCode);
    }, c.behaviour.stopDelayMs);
    return this.#untilExit(c);
  }

  async #remove(task: Task): Promise<void> {
    const c = this.#containers.get(task.id);
    if (!c) return;
    if (c.state === "running") this.#exit(c, 137); // docker rm -f
    c.startDone?.();
    c.timer?.cancel();
    c.healthTimer?.cancel();
    this.#containers.delete(task.id);
    this.#stats.removes++;
  }

  async #inspect(task: Task): Promise<ContainerStatus | null> {
    const c = this.#containers.get(task.id);
    return c ? statusOf(c) : null;
  }

  #onChange(task: Task, listener: (s: ContainerStatus) => void): () => void {
    let set = this.#listeners.get(task.id);
    if (!set) this.#listeners.set(task.id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(task.id) === set) this.#listeners.delete(task.id);
    };
  }

  /** The behaviour a task's container gets: defaults, options, its labels, then `behaviour(task)`. */
  behaviourOf(task: Task): SimBehaviour {
    const spec = task.spec?.runtime?.$case === "container" ? task.spec.runtime.container : undefined;
    const test = spec?.healthcheck?.test ?? [];
    const health: SimBehaviour["health"] = test.length > 0 && test[0] !== "NONE" ? "healthy" : "none";
    return {
      ...DEFAULTS,
      health,
      ...this.#opts.defaults,
      ...behaviourFromLabels(spec?.labels ?? {}),
      ...this.#opts.behaviour?.(task),
    };
  }

  // ----- internals -----

  #create(task: Task, b: SimBehaviour): void {
    const crashes = (this.#opts.failureRate ?? 0) > 0 && this.#random() < this.#opts.failureRate!;
    const c: SimContainer = {
      id: `sim${(this.#nextId++).toString(16).padStart(12, "0")}`,
      taskId: task.id,
      name: task.annotations?.name || task.id,
      state: "created",
      pid: 0,
      behaviour: b,
      crashes,
      timer: null,
      healthTimer: null,
      starting: null,
      startDone: null,
      stopping: false,
      waiters: [],
      starts: 0,
    };
    this.#containers.set(task.id, c);
    this.#stats.creates++;
  }

  #run(c: SimContainer): void {
    c.state = "running";
    c.pid = this.#nextPid++;
    c.startedAtUnixMs = this.#clock.now();
    c.starts++;
    this.#stats.starts++;
    const b = c.behaviour;
    if (b.health !== "none") {
      c.health = "starting";
      const outcome = b.health;
      const settle = () => {
        c.healthTimer = null;
        if (c.state !== "running") return;
        c.health = outcome;
        this.#emit(c);
      };
      if (b.healthDelayMs > 0) c.healthTimer = this.#clock.setTimer(settle, b.healthDelayMs);
      else queueMicrotask(settle);
    }
    this.#emit(c);
    const [after, code] = c.crashes ? [this.#opts.failAfterMs ?? 0, this.#opts.failureExitCode ?? 1] : [b.runMs, b.exitCode];
    if (after === null || this.#closed) return;
    if (after <= 0) {
      this.#exit(c, code);
      return;
    }
    c.timer = this.#clock.setTimer(() => {
      c.timer = null;
      this.#exit(c, code);
    }, after);
  }

  #exit(c: SimContainer, exitCode: number, error?: string): void {
    if (c.state !== "running") return;
    c.timer?.cancel();
    c.healthTimer?.cancel();
    c.timer = c.healthTimer = null;
    c.state = "exited";
    c.exitCode = exitCode;
    if (error !== undefined) c.error = error;
    c.pid = 0;
    c.finishedAtUnixMs = this.#clock.now();
    const waiters = c.waiters.splice(0);
    for (const w of waiters) w();
    this.#emit(c);
  }

  #untilExit(c: SimContainer): Promise<void> {
    if (c.state === "exited") return Promise.resolve();
    return new Promise((resolve) => c.waiters.push(resolve));
  }

  #emit(c: SimContainer): void {
    const set = this.#listeners.get(c.taskId);
    if (!set) return;
    const s = statusOf(c);
    for (const l of [...set]) l({ ...s });
  }

  #mustGet(task: Task): SimContainer {
    const c = this.#containers.get(task.id);
    if (!c) throw new Error(`No such container: ${task.annotations?.name || task.id}`);
    return c;
  }

}

/** Lines every started simulated container wrote. */
export const SIM_LOG_LINES = 3;

/**
 * The output of task `taskId`'s simulated container started at `startedAtUnixMs`: "task ID line N\n"
 * for N = 1..3, line 2 on stderr, written 1 ms apart from the start.
 */
export function simLogLines(taskId: string, startedAtUnixMs: number): LogLine[] {
  return Array.from({ length: SIM_LOG_LINES }, (_, i) => ({
    timestamp: new Date(startedAtUnixMs + i + 1).toISOString(),
    stream: i === 1 ? ("stderr" as const) : ("stdout" as const),
    data: Buffer.from(`task ${taskId} line ${i + 1}\n`),
  }));
}

function imageOf(task: Task): string {
  return task.spec?.runtime?.$case === "container" ? task.spec.runtime.container.image : "";
}

function statusOf(c: SimContainer): ContainerStatus {
  const s: ContainerStatus = { containerId: c.id, state: c.state };
  if (c.exitCode !== undefined) s.exitCode = c.exitCode;
  if (c.error !== undefined) s.error = c.error;
  if (c.health !== undefined) s.health = c.health;
  if (c.pid) s.pid = c.pid;
  if (c.startedAtUnixMs !== undefined) s.startedAtUnixMs = c.startedAtUnixMs;
  if (c.finishedAtUnixMs !== undefined) s.finishedAtUnixMs = c.finishedAtUnixMs;
  return s;
}
