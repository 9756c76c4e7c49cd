// The contract between the agent and the thing that runs tasks (the Docker engine, or the sim
// executor in scale tests): describe the host's engine, find the containers this node already
// runs (after an agent restart), drive one task's container through its life, and read a task's
// container logs (for `service logs`). The task controller (agent/task) turns these calls into task
// states; executors never decide states.
import type { Config, Secret, Task } from "../../proto/gen/objects.js";
import type { EngineDescription, Platform, Resources } from "../../proto/gen/types.js";

/** What an executor knows of the host beyond what the agent finds itself. */
export interface ExecutorDescription {
  engine: EngineDescription;
  /** When the engine reports them (CPUs, memory), they replace the agent's own figures. */
  resources?: Resources;
  platform?: Platform;
}

/** A container as the engine sees it. */
export interface ContainerStatus {
  /** The engine's container id. */
  containerId: string;
  /** created | running | paused | restarting | removing | exited | dead (docker's words). */
  state: string;
  /** Set once the container has exited. */
  exitCode?: number;
  /** The engine's error, when it has one ("OCI runtime create failed: …"). */
  error?: string;
  /** Healthcheck status when the container has one: starting | healthy | unhealthy. */
  health?: string;
  pid?: number;
  startedAtUnixMs?: number;
  finishedAtUnixMs?: number;
}

/** Secrets and configs a task references, resolved by the agent from its assignments. */
export interface TaskDependencies {
  secrets: Secret[];
  configs: Config[];
}

/** Drives one task's container. Every method is idempotent: the agent may repeat calls after a restart. */
export interface ContainerController {
  /** Makes the image present and creates the container (adopts an existing one of this task). */
  prepare(signal: AbortSignal): Promise<void>;
  /** Starts the created container (no-op when it already runs). */
  start(): Promise<void>;
  /** Resolves when the container exits (at once when it already has), with its final status. */
  wait(signal: AbortSignal): Promise<ContainerStatus>;
  /** Stops the container: the task's stop signal, then SIGKILL after its grace period. */
  shutdown(): Promise<void>;
  /** Removes the container (and its anonymous volumes). */
  remove(): Promise<void>;
  /** The container's status now, or null when there is none. */
  inspect(): Promise<ContainerStatus | null>;
  /** Calls `listener` when the engine reports a change of this container (start, die, health). */
  onChange(listener: (status: ContainerStatus) => void): () => void;
}

export interface Executor {
  describe(): Promise<ExecutorDescription>;
  /** The controller for one task (cheap: does no I/O until called). */
  controller(task: Task, deps: TaskDependencies): ContainerController;
  /** Task ids of the containers this node's agent created (found by their labels), with their status. */
  owned(): Promise<Map<string, ContainerStatus>>;
  close(): Promise<void>;
}

/** Which of a container's output streams a log line came from. */
export type LogStreamName = "stdout" | "stderr";

/** What to read of a task's container logs. */
export interface LogReadOptions {
  /** Keep reading new lines until the container stops or the signal aborts. */
  follow: boolean;
  /** Only the last `tail` lines; negative = all. */
  tail: number;
  /** Only lines written at or after this time (Unix ms; 0 = from the start). */
  sinceUnixMs: number;
  /** Which streams; empty = both. */
  streams: LogStreamName[];
}

/** One line of a container's output. */
export interface LogLine {
  /** When the engine received it: RFC 3339 (docker gives nanoseconds). */
  timestamp: string;
  stream: LogStreamName;
  /** The line with its newline (a line the engine split, or the last one of a stopped container, may lack it). */
  data: Buffer;
}

/**
 * Reads task logs. Kept apart from {@link Executor} because only the log publisher (agent/logs) needs
 * it; both executors implement it.
 */
export interface LogReader {
  /**
   * The task's container output, oldest first. A task without a container has none (the iterable
   * ends at once). Rejects with the engine's error when the engine fails. Ends when the signal aborts.
   */
  logs(task: Task, options: LogReadOptions, signal: AbortSignal): AsyncIterable<LogLine>;
}
