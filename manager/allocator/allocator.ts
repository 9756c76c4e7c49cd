// The allocator: a leader component that gives services their endpoints and moves NEW tasks to
// PENDING once everything they need is allocated (task-gate.ts). It follows the store: every commit
// that creates or changes a service or a NEW task queues it, and one pass per turn of the event loop
// writes what changed in bounded transactions. A write that loses a race is retried from the new state.
import { Service, type Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import type { LeaderComponent } from "../leader-components.js";
import { StoreError, StoreErrorCode, type MemoryStore, type StoreEvent, type StoreObject, type Watch } from "../store/index.js";
import { allocatedEndpoint, endpointAllocated } from "./endpoint.js";
import { gateTask } from "./task-gate.js";

/** Tasks moved to PENDING in one transaction at most. */
const TASKS_PER_TX = 250;
/** Wait before retrying a write that failed for another reason than a lost race. */
const RETRY_MS = 1_000;

export interface AllocatorOptions {
  now?: () => number;
  onError?: (e: Error) => void;
}

const obj = (o: object): StoreObject => o as unknown as StoreObject;

export class Allocator implements LeaderComponent {
  readonly name = "allocator";
  private watch: Watch | null = null;
  private readonly services = new Set<string>();
  private readonly tasks = new Set<string>();
  private passQueued = false;
  private passRunning: Promise<void> | null = null;

  constructor(
    private readonly store: MemoryStore,
    private readonly opts: AllocatorOptions = {},
  ) {}

  start(): void {
    if (this.watch) return;
    const watch = this.store.watch({ kinds: ["service", "task"] });
    this.watch = watch;
    this.store.view((r) => {
      for (const s of r.list("service")) this.services.add(s.id);
      for (const t of r.list("task")) if ((t as unknown as Task).status?.state === TaskState.TASK_STATE_NEW) this.tasks.add(t.id);
    });
    this.queuePass();
    void this.follow(watch);
  }

  async stop(): Promise<void> {
    this.watch?.close();
    this.watch = null;
    this.services.clear();
    this.tasks.clear();
    await this.passRunning;
  }

  private async follow(watch: Watch): Promise<void> {
    try {
      for await (const e of watch) this.onEvent(e);
    } catch (e) {
      if (this.watch !== watch) return;
      // Fell behind or the store was restored from a snapshot: start over from a full read.
      this.opts.onError?.(e as Error);
      this.watch = null;
      this.start();
    }
  }

  private onEvent(e: StoreEvent): void {
    if (e.type === "commit") return this.queuePass();
    if (e.type === "remove") return;
    if (e.kind === "service") this.services.add(e.object.id);
    else if ((e.object as unknown as Task).status?.state === TaskState.TASK_STATE_NEW) this.tasks.add(e.object.id);
  }

  private queuePass(): void {
    if (this.passQueued || !this.watch) return;
    this.passQueued = true;
    setImmediate(() => {
      this.passQueued = false;
      if (!this.watch || this.passRunning) return;
      this.passRunning = this.pass().finally(() => {
        this.passRunning = null;
        if (this.services.size + this.tasks.size > 0) this.queuePass();
      });
    });
  }

  private async pass(): Promise<void> {
    const serviceIds = [...this.services];
    const taskIds = [...this.tasks];
    this.services.clear();
    this.tasks.clear();
    await this.allocateServices(serviceIds);
    await this.gateTasks(taskIds);
  }

  private async allocateServices(ids: string[]): Promise<void> {
    const stale = this.store.view((r) =>
      ids.filter((id) => {
        const s = r.get("service", id) as unknown as Service | undefined;
        return s !== undefined && !endpointAllocated(s);
      }),
    );
    if (stale.length === 0) return;
    try {
      await this.store.update((tx) => {
        for (const id of stale) {
          const cur = tx.get("service", id) as unknown as Service | undefined;
          if (!cur || endpointAllocated(cur)) continue;
          tx.update("service", obj({ ...Service.fromPartial(cur), meta: cur.meta, endpoint: allocatedEndpoint(cur) }));
        }
      });
    } catch (e) {
      this.retry(e, () => stale.forEach((id) => this.services.add(id)));
    }
  }

  private async gateTasks(ids: string[]): Promise<void> {
    const now = (this.opts.now ?? Date.now)();
    const ready = this.store.view((r) =>
      ids.filter((id) => {
        const t = r.get("task", id) as unknown as Task | undefined;
        return t !== undefined && gateTask(t, r.get("service", t.serviceId) as unknown as Service | undefined, now) !== null;
      }),
    );
    for (let i = 0; i < ready.length; i += TASKS_PER_TX) {
      const chunk = ready.slice(i, i + TASKS_PER_TX);
      try {
        await this.store.update((tx) => {
          for (const id of chunk) {
            const t = tx.get("task", id) as unknown as Task | undefined;
            if (!t) continue;
            const next = gateTask(t, tx.get("service", t.serviceId) as unknown as Service | undefined, now);
            if (next) tx.update("task", obj({ ...next, meta: t.meta }));
          }
        });
      } catch (e) {
        this.retry(e, () => chunk.forEach((id) => this.tasks.add(id)));
      }
    }
  }

  /** A lost race is retried on the next pass; anything else is reported and retried a second later. */
  private retry(e: unknown, requeue: () => void): void {
    if (!this.watch) return;
    if (e instanceof StoreError && e.code === StoreErrorCode.Conflict) return requeue();
    this.opts.onError?.(e as Error);
    const watch = this.watch;
    setTimeout(() => {
      if (this.watch !== watch) return;
      requeue();
      this.queuePass();
    }, RETRY_MS).unref();
  }
}
