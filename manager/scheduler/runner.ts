// The scheduler runner: a leader component that follows tasks and nodes in the store and places
// PENDING tasks with the pure scheduler (scheduler/). The first change after a quiet spell (no pass
// within debounceMs) is scheduled on the next turn of the event loop, with whatever its store commit
// brought along; later changes wait for a quiet gap in the events that give it work (debounceMs, at
// most maxDelayMs after the first; agents' status reports, room freed while nothing is parked and its
// own writes do not count). A pass schedules everything queued over a fresh snapshot and commits the
// decisions in bounded transactions, each task re-read there; a transaction that loses a race (a
// task changed or removed between build and apply) is queued again whole.
// Unschedulable tasks are parked (their err written once) until a node changes or a task frees room.
import type { Node, Task } from "../../proto/gen/objects.js";
import { FAILURE_WINDOW_MS, schedule, type Assignment, type TaskFailure, type Unschedulable } from "../../scheduler/index.js";
import type { LeaderComponent } from "../leader-components.js";
import { StoreError, StoreErrorCode, type MemoryStore, type StoreEvent, type StoreObject, type Watch } from "../store/index.js";
import { assignedTask, unschedulableTask } from "./decisions.js";
import { needsPlacement, taskChange } from "./task-changes.js";

/** Decisions written in one transaction at most. */
const TASKS_PER_TX = 100;
/** Wait before retrying decisions whose write failed for another reason than a lost race. */
const RETRY_MS = 1_000;

export interface SchedulerRunnerOptions {
  /** Wall clock for status timestamps and failure times (default Date.now). */
  now?: () => number;
  /**
   * Quiet gap in the events that give it work (tasks to place, nodes, room freed for parked tasks)
   * before a pass, when a pass ran less than this long ago (default 50 ms); otherwise the pass runs
   * on the next turn of the event loop.
   */
  debounceMs?: number;
  /** Longest wait from the first change to a pass (default 1 s). */
  maxDelayMs?: number;
  /** Errors the runner recovers from (failed writes, a watch that fell behind). */
  onError?: (e: Error) => void;
}

type Decision = Assignment | Unschedulable;

const obj = (o: object): StoreObject => o as unknown as StoreObject;

export class SchedulerRunner implements LeaderComponent {
  readonly name = "scheduler";
  private watch: Watch | null = null;
  /** Tasks to consider at the next pass. */
  private readonly queued = new Set<string>();
  /** Tasks found unschedulable, waiting for a node change or freed room. */
  private readonly parked = new Set<string>();
  /** Failures in time order, pruned to the ranking window. */
  private failures: TaskFailure[] = [];
  /** Cancels the pass to come (on the next turn, or when the debounce ends); null when none is due. */
  private cancelWait: (() => void) | null = null;
  private readonly retryTimers = new Set<ReturnType<typeof setTimeout>>();
  private burstStartedAt = 0;
  private lastEventAt = 0;
  /** When (performance.now()) the last pass ended. */
  private lastPassEndedAt = -Infinity;
  private passRunning: Promise<void> | null = null;
  private readonly now: () => number;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly store: MemoryStore,
    private readonly opts: SchedulerRunnerOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.debounceMs = opts.debounceMs ?? 50;
    this.maxDelayMs = opts.maxDelayMs ?? 1_000;
  }

  start(signal?: AbortSignal): void {
    if (this.watch) return;
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
    this.open();
  }

  async stop(): Promise<void> {
    this.watch?.close();
    this.watch = null;
    this.cancelWait?.();
    this.cancelWait = null;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    this.queued.clear();
    this.parked.clear();
    await this.passRunning;
  }

  /** Opens the watch and queues every task waiting for placement (one synchronous read: nothing is missed). */
  private open(): void {
    const watch = this.store.watch({ kinds: ["task", "node"] });
    this.watch = watch;
    this.store.view((r) => {
      for (const t of r.list("task")) if (needsPlacement(t as unknown as Task)) this.queued.add(t.id);
    });
    this.wake();
    void this.follow(watch);
  }

  private async follow(watch: Watch): Promise<void> {
    try {
      for await (const e of watch) this.onEvent(e);
    } catch (e) {
      if (this.watch !== watch) return;
      // Fell behind, or the store was restored from a snapshot: start over from a full read.
      this.opts.onError?.(e as Error);
      this.retryParked();
      this.open();
    }
  }

  private onEvent(e: StoreEvent): void {
    if (e.type === "commit") return;
    if (e.kind === "node") {
      this.lastEventAt = performance.now();
      this.retryParked();
    } else {
      const change = taskChange(e, (id) => this.parked.has(id));
      if (change.failed) this.recordFailure({ ...change.failed, atMs: this.now() });
      if (change.settled !== undefined) {
        this.queued.delete(change.settled);
        this.parked.delete(change.settled);
      }
      if (change.consider !== undefined) {
        this.parked.delete(change.consider);
        this.queued.add(change.consider);
      }
      // Room freed with nothing parked (an old task stopping during an update) gives no work: no reason to wait.
      const retried = change.freed === true && this.retryParked();
      if (change.consider !== undefined || retried) this.lastEventAt = performance.now();
    }
    this.wake();
  }

  /** Queues the parked tasks again; returns whether there were any. */
  private retryParked(): boolean {
    if (this.parked.size === 0) return false;
    for (const id of this.parked) this.queued.add(id);
    this.parked.clear();
    return true;
  }

  private recordFailure(f: TaskFailure): void {
    this.failures.push(f);
    this.pruneFailures(f.atMs);
  }

  private pruneFailures(nowMs: number): void {
    let expired = 0;
    while (expired < this.failures.length && nowMs - this.failures[expired]!.atMs >= FAILURE_WINDOW_MS) expired++;
    if (expired > 0) this.failures = this.failures.slice(expired);
  }

  /**
   * When work is queued and no pass runs or is due: a pass on the next turn of the event loop if
   * none ended within debounceMs (the rest of this store commit comes along), else the debounce.
   */
  private wake(): void {
    if (!this.watch || this.cancelWait || this.passRunning || this.queued.size === 0) return;
    const now = performance.now();
    this.burstStartedAt = now;
    if (now - this.lastPassEndedAt >= this.debounceMs) {
      const immediate = setImmediate(() => this.runPass());
      this.cancelWait = () => clearImmediate(immediate);
      return;
    }
    this.armDebounce(this.debounceMs);
  }

  private armDebounce(ms: number): void {
    const timer = setTimeout(() => this.onTimer(), ms);
    this.cancelWait = () => clearTimeout(timer);
  }

  private onTimer(): void {
    const t = performance.now();
    const wakeAt = Math.min(this.lastEventAt + this.debounceMs, this.burstStartedAt + this.maxDelayMs);
    if (t < wakeAt) {
      this.armDebounce(wakeAt - t);
      return;
    }
    this.runPass();
  }

  private runPass(): void {
    this.cancelWait = null;
    if (!this.watch) return;
    this.passRunning = this.pass()
      .catch((e: unknown) => this.opts.onError?.(e as Error))
      .finally(() => {
        this.passRunning = null;
        this.lastPassEndedAt = performance.now();
        this.wake();
      });
  }

  /**
   * Schedules the queued tasks over a snapshot and commits the decisions. The snapshot, the
   * placement and the building of every transaction happen in one synchronous turn, so each
   * transaction starts from the state the decisions were made on; a rival write that lands before a
   * transaction applies makes the store refuse it whole (Conflict), and its tasks are queued again.
   */
  private async pass(): Promise<void> {
    const ids = [...this.queued];
    this.queued.clear();
    const { nodes, tasks, pending } = this.store.view((r) => {
      const pending: Task[] = [];
      for (const id of ids) {
        const t = r.get("task", id) as unknown as Task | undefined;
        if (t && needsPlacement(t)) pending.push(t);
      }
      return { nodes: r.list("node") as unknown as Node[], tasks: r.list("task") as unknown as Task[], pending };
    });
    if (pending.length === 0) return;
    const nowMs = this.now();
    this.pruneFailures(nowMs);
    const result = schedule({ nodes, tasks, pending, failures: this.failures, nowMs });
    const decisions: Decision[] = [...result.assigned, ...result.unschedulable];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < decisions.length; i += TASKS_PER_TX) writes.push(this.commit(decisions.slice(i, i + TASKS_PER_TX), nowMs));
    await Promise.all(writes);
  }

  private async commit(chunk: Decision[], nowMs: number): Promise<void> {
    try {
      await this.store.update((tx) => {
        for (const d of chunk) {
          const cur = tx.get("task", d.taskId) as unknown as Task | undefined;
          if (!cur || !needsPlacement(cur)) continue; // placed, stopped or removed since the snapshot
          if ("nodeId" in d) {
            tx.update("task", obj(assignedTask(cur, d.nodeId, nowMs)));
            continue;
          }
          // Parked now, before the write applies: the write's own event must not queue it again.
          this.parked.add(d.taskId);
          const next = unschedulableTask(cur, d.reason);
          if (next) tx.update("task", obj(next));
        }
      });
    } catch (e) {
      if (!this.watch) return;
      for (const d of chunk) this.parked.delete(d.taskId);
      if (e instanceof StoreError && (e.code === StoreErrorCode.Conflict || e.code === StoreErrorCode.NotFound)) {
        for (const d of chunk) this.queued.add(d.taskId);
        return;
      }
      if (e instanceof StoreError && e.code === StoreErrorCode.InvalidArgument && chunk.length > 1) {
        // Too large a transaction (large task specs): write it in halves.
        const half = chunk.length >> 1;
        await Promise.all([this.commit(chunk.slice(0, half), nowMs), this.commit(chunk.slice(half), nowMs)]);
        return;
      }
      this.opts.onError?.(e as Error);
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        for (const d of chunk) this.queued.add(d.taskId);
        this.wake();
      }, RETRY_MS);
      this.retryTimers.add(timer);
    }
  }
}
