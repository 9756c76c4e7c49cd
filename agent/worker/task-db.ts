// The worker's local database (classic-level at e.g. <data-dir>/agent/db): each assigned task and
// its last status, so a restarted agent finds its tasks and adopts their containers.
//
//   task/<id>    Task (protobuf), without its status; tasks hold secret *references*, never values
//   status/<id>  TaskStatus (protobuf)
//
// Secrets and configs are never written here. Writes are queued and coalesced (the latest value
// of a key wins) into one batch at a time, so writes to a key land in the order they were made.
import { mkdir } from "node:fs/promises";
import { ClassicLevel } from "classic-level";
import { Task } from "../../proto/gen/objects.js";
import { TaskStatus } from "../../proto/gen/types.js";

const TASK = "task/";
const STATUS = "status/";
/** Just above every key of a prefix (keys are ASCII ids). */
const END = "\xff";

/** A task as stored, with its last status (null when none was stored). */
export interface StoredTask {
  task: Task;
  status: TaskStatus | null;
}

/**
 * Where the worker keeps its tasks and statuses. Writes are fire-and-forget (queued, applied in
 * order); `flush()` waits for them.
 */
export interface TaskStore {
  /** Every stored task with its status. */
  load(): Promise<StoredTask[]>;
  /** Stores a task (without its status). */
  putTask(task: Task): void;
  putStatus(taskId: string, status: TaskStatus): void;
  /** Forgets a task and its status. */
  delete(taskId: string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TaskStore in memory (encoded as on disk), for simulations of many agents in one process. The
 * same instance given to a new Worker plays an agent restart.
 */
export class MemoryTaskStore implements TaskStore {
  readonly #tasks = new Map<string, Uint8Array>();
  readonly #statuses = new Map<string, Uint8Array>();

  async load(): Promise<StoredTask[]> {
    return [...this.#tasks].map(([id, bytes]) => {
      const s = this.#statuses.get(id);
      return { task: Task.decode(bytes), status: s ? TaskStatus.decode(s) : null };
    });
  }
  putTask(task: Task): void {
    this.#tasks.set(task.id, Task.encode({ ...task, status: undefined }).finish());
  }
  putStatus(taskId: string, status: TaskStatus): void {
    this.#statuses.set(taskId, TaskStatus.encode(status).finish());
  }
  delete(taskId: string): void {
    this.#tasks.delete(taskId);
    this.#statuses.delete(taskId);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The worker's task database on disk (classic-level); see the file comment. */
export class TaskDb implements TaskStore {
  readonly #db: ClassicLevel<string, Uint8Array>;
  readonly #onError: (err: unknown) => void;
  #pending = new Map<string, Uint8Array | null>();
  #writing: Promise<void> | null = null;

  private constructor(db: ClassicLevel<string, Uint8Array>, onError: (err: unknown) => void) {
    this.#db = db;
    this.#onError = onError;
  }

  /** Opens (creating) the database at `path`. `onError` hears of writes that failed. */
  static async open(path: string, onError: (err: unknown) => void = () => {}): Promise<TaskDb> {
    await mkdir(path, { recursive: true });
    const db = new ClassicLevel<string, Uint8Array>(path, { keyEncoding: "utf8", valueEncoding: "view" });
    await db.open();
    return new TaskDb(db, onError);
  }

  /** Every stored task with its status. */
  async load(): Promise<StoredTask[]> {
    const statuses = new Map<string, TaskStatus>();
    for await (const [key, value] of this.#db.iterator({ gte: STATUS, lt: STATUS + END })) {
      statuses.set(key.slice(STATUS.length), TaskStatus.decode(value));
    }
    const out: StoredTask[] = [];
    for await (const [key, value] of this.#db.iterator({ gte: TASK, lt: TASK + END })) {
      const id = key.slice(TASK.length);
      out.push({ task: Task.decode(value), status: statuses.get(id) ?? null });
    }
    return out;
  }

  /** Stores a task (its status field is left out; statuses have their own key). */
  putTask(task: Task): void {
    this.#queue(TASK + task.id, Task.encode({ ...task, status: undefined }).finish());
  }

  putStatus(taskId: string, status: TaskStatus): void {
    this.#queue(STATUS + taskId, TaskStatus.encode(status).finish());
  }

  /** Forgets a task and its status. */
  delete(taskId: string): void {
    this.#queue(TASK + taskId, null);
    this.#queue(STATUS + taskId, null);
  }

  /** Resolves once every write queued so far is written. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#db.close();
  }

  #queue(key: string, value: Uint8Array | null): void {
    this.#pending.set(key, value);
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    await Promise.resolve(); // collect the writes of this turn into one batch
    while (this.#pending.size > 0) {
      const ops = [...this.#pending].map(([key, value]) =>
        value === null ? { type: "del" as const, key } : { type: "put" as const, key, value },
      );
      this.#pending = new Map();
      try {
        await this.#db.batch(ops);
      } catch (err) {
        this.#onError(err);
      }
    }
    this.#writing = null;
  }
}
