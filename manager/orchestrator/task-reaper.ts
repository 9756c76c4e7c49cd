// The task reaper: a leader component that deletes tasks no longer needed (decisions/reaper.ts).
// Task changes mark their slot (per node for global modes) to be looked at; slots are looked at
// 250 ms after the first change, or at once when over 1,000 are waiting, and the deletions are
// committed in transactions of up to 1,000. A deletion is skipped if the task changed meanwhile.
import type { Cluster, Service, Task } from "../../proto/gen/objects.js";
import type { MemoryStore, ReadView, StoreEvent } from "../store/index.js";
import { Alarm, type OrchestratorClock } from "./clock.js";
import { commitSteps } from "./commit.js";
import { step, type Step } from "./decisions/plan.js";
import { historyLimit, reapServiceless, tasksToReap } from "./decisions/reaper.js";
import { LeaderLoop } from "./leader-loop.js";

/** How long task changes are collected before a pass (SwarmKit's). */
export const REAPER_BATCH_MS = 250;
/** Slots waiting that make a pass start at once, and the most deletions in one transaction. */
export const REAPER_MAX_BATCH = 1_000;

export interface TaskReaperOptions {
  clock: OrchestratorClock;
  onError: (e: Error) => void;
}

const as = <T>(o: unknown): T => o as T;

/** Where a changed task sits: its service, slot and node (and id, for a task without service). */
interface Place {
  serviceId: string;
  slot: number;
  nodeId: string;
  taskId: string;
}

const placeOf = (t: Task): Place => ({ serviceId: t.serviceId, slot: t.slot, nodeId: t.nodeId, taskId: t.id });
const keyOf = (p: Place): string => (p.serviceId ? `${p.serviceId}|${p.slot}|${p.nodeId}` : `|${p.taskId}`);
const slotKeyed = (s: Service): boolean => s.spec?.mode?.$case === "replicated" || s.spec?.mode?.$case === "replicatedJob";

export class TaskReaper extends LeaderLoop {
  readonly name = "task-reaper";
  private readonly dirty = new Map<string, Place>();
  private readonly batchAlarm: Alarm;

  constructor(store: MemoryStore, opts: TaskReaperOptions) {
    super(store, opts.clock, ["task", "service", "cluster"], opts.onError);
    this.batchAlarm = new Alarm(opts.clock, () => this.requestPass());
  }

  private mark(p: Place): void {
    this.dirty.set(keyOf(p), p);
  }

  private markTasks(tasks: readonly unknown[]): void {
    for (const t of tasks) this.mark(placeOf(as<Task>(t)));
  }

  protected resync(): void {
    this.store.view((r) => this.markTasks(r.list("task")));
  }

  protected collect(e: StoreEvent): void {
    if (e.type === "commit") return;
    if (e.kind === "task") {
      if (e.type !== "remove") this.mark(placeOf(as<Task>(e.object)));
    } else if (e.kind === "cluster") {
      this.resync();
    } else if (e.kind === "service" && (e.type === "remove" || as<Service>(e.object).pendingDelete)) {
      const id = e.type === "remove" ? e.old.id : e.object.id;
      this.store.view((r) => this.markTasks(r.find("task", "service", id)));
    }
  }

  protected hasWork(): boolean {
    return this.dirty.size > 0;
  }

  protected override afterCommit(): void {
    if (this.dirty.size > REAPER_MAX_BATCH) {
      this.batchAlarm.cancel();
      this.requestPass();
    } else if (this.dirty.size > 0) {
      this.batchAlarm.setNoLaterThan(this.clock.now() + REAPER_BATCH_MS);
    }
  }

  protected reset(): void {
    this.batchAlarm.cancel();
    this.dirty.clear();
  }

  /** The tasks of the slot (or node, or whole deleted service) that `p` names, and the key of that group. */
  private group(r: ReadView, p: Place): { key: string; tasks: Task[]; service: Service | undefined } {
    const service = as<Service | undefined>(r.get("service", p.serviceId));
    const ofService = () => r.find("task", "service", p.serviceId).map((o) => as<Task>(o));
    if (!service || service.pendingDelete) return { key: `${p.serviceId}|*`, tasks: ofService(), service: undefined };
    if (slotKeyed(service)) {
      const tasks = p.slot ? r.find("task", "slot", `${p.serviceId}/${p.slot}`).map((o) => as<Task>(o)) : ofService().filter((t) => t.slot === 0);
      return { key: `${p.serviceId}|s${p.slot}`, tasks, service };
    }
    const tasks = p.nodeId ? r.find("task", "node", p.nodeId).map((o) => as<Task>(o)).filter((t) => t.serviceId === p.serviceId) : ofService().filter((t) => !t.nodeId);
    return { key: `${p.serviceId}|n${p.nodeId}`, tasks, service };
  }

  protected async pass(): Promise<void> {
    this.batchAlarm.cancel();
    const places = [...this.dirty.values()];
    this.dirty.clear();
    const steps: Step[] = [];
    const placeOfStep = new Map<Step, Place>();
    const view = (r: ReadView): void => {
      const cluster = as<Cluster | undefined>(r.list("cluster")[0]);
      const seen = new Set<string>();
      const reap = (t: Task): void => {
        const s = step(t.serviceId, { remove: [t] });
        steps.push(s);
        placeOfStep.set(s, placeOf(t));
      };
      for (const p of places) {
        if (!p.serviceId) {
          const t = as<Task | undefined>(r.get("task", p.taskId));
          if (t && reapServiceless(t)) reap(t);
          continue;
        }
        const g = this.group(r, p);
        if (seen.has(g.key)) continue;
        seen.add(g.key);
        tasksToReap(g.tasks, g.service, historyLimit(cluster, g.service)).forEach(reap);
      }
    };
    try {
      this.store.view(view);
    } catch (e) {
      places.forEach((p) => this.mark(p)); // a broken invariant: try again on the retry
      throw e;
    }
    if (steps.length === 0) return;
    const result = await commitSteps(this.store, steps, { maxActionsPerTx: REAPER_MAX_BATCH });
    for (const s of result.skipped) this.mark(placeOfStep.get(s)!);
    for (const f of result.failed) {
      for (const s of f.steps) this.mark(placeOfStep.get(s)!);
      this.retryLater(f.error);
    }
    if (result.skipped.length > 0) this.afterCommit();
  }
}
