// The runner of a service orchestrator (replicated, global, jobs): follows services, tasks and
// nodes, and for every service a change concerns, makes the mode's decision from one store
// snapshot and commits its steps. A step that cannot be applied (its premises changed) makes the
// service's decision be made again. A decision that waits (a READY-gated task's gate: the old task's
// stop, at most a minute, and its restart delay; an update's delay or bounds) sets a timer; the old
// task's stop is a task event. After a change of leader the first pass looks at every service, so
// READY-gated tasks whose gate opened start at once and the others get timers. A task's progress
// toward RUNNING does not concern its service (task-change.ts), unless it lands on a node that
// cannot run it or the service is being updated.
import type { Cluster, Node, Service, Task } from "../../proto/gen/objects.js";
import type { MemoryStore, ReadView, StoreEvent } from "../store/index.js";
import { Alarm, type OrchestratorClock } from "./clock.js";
import { commitSteps } from "./commit.js";
import type { Decision, Step } from "./decisions/plan.js";
import type { ServiceInput } from "./decisions/service-input.js";
import { awaitsRunningTasks } from "./decisions/update-status.js";
import { nodeFailure } from "./decisions/task-state.js";
import { LeaderLoop } from "./leader-loop.js";
import { classifyTaskUpdate } from "./task-change.js";

/** What distinguishes one service orchestrator from another. */
export interface OrchestratorMode {
  /** The component's name ("replicated-orchestrator"). */
  readonly name: string;
  /** Whether the service is this orchestrator's (by its mode). */
  owns(service: Service): boolean;
  /** Whether every node change concerns the service (global modes), not only those of its tasks' nodes. */
  followsAllNodes(service: Service): boolean;
  decide(input: ServiceInput): Decision;
}

export interface ServiceOrchestratorOptions {
  clock: OrchestratorClock;
  newId: () => string;
  onError: (e: Error) => void;
}

const as = <T>(o: unknown): T => o as T;

/** Whether the service's decision waits for tasks to run: an update or rollback in progress, or paused with start-first replacements on their way. */
const isBeingUpdated = (service: Service | undefined): boolean => service !== undefined && awaitsRunningTasks(service);

export class ServiceOrchestrator extends LeaderLoop {
  readonly name: string;
  private everything = false;
  private readonly services = new Set<string>();
  private readonly nodes = new Set<string>();
  /** Nodes tasks were just placed on → those tasks' services: decided only if the node cannot run tasks. */
  private readonly placedOn = new Map<string, Set<string>>();
  /** Services some of whose tasks just reached RUNNING: decided only while being updated. */
  private readonly reachedRunning = new Set<string>();
  /** When each service's decision asked to be made again (gates, update delays and bounds). */
  private readonly wakeAt = new Map<string, number>();
  private readonly alarm: Alarm;

  constructor(
    store: MemoryStore,
    private readonly mode: OrchestratorMode,
    private readonly opts: ServiceOrchestratorOptions,
  ) {
    super(store, opts.clock, ["service", "task", "node"], opts.onError);
    this.name = mode.name;
    this.alarm = new Alarm(opts.clock, () => this.onAlarm());
  }

  protected resync(): void {
    this.everything = true;
  }

  protected collect(e: StoreEvent): void {
    if (e.type === "commit") return;
    const o = e.type === "remove" ? e.old : e.object;
    if (e.kind === "service") this.services.add(o.id);
    else if (e.kind === "task") this.collectTask(as<Task>(o), e.type === "update" ? as<Task>(e.old) : null);
    else if (e.kind === "node") this.nodes.add(o.id);
  }

  private collectTask(task: Task, old: Task | null): void {
    const kind = old ? classifyTaskUpdate(old, task) : "changed";
    if (kind === "changed") this.services.add(task.serviceId);
    else if (kind === "reached-running") this.reachedRunning.add(task.serviceId);
    else if (kind === "placed") {
      const services = this.placedOn.get(task.nodeId) ?? new Set<string>();
      this.placedOn.set(task.nodeId, services.add(task.serviceId));
    }
  }

  protected hasWork(): boolean {
    return this.everything || this.services.size > 0 || this.nodes.size > 0 || this.placedOn.size > 0 || this.reachedRunning.size > 0;
  }

  protected reset(): void {
    this.alarm.cancel();
    this.clearCollected();
    this.wakeAt.clear();
  }

  /** Forgets what the events collected. */
  private clearCollected(): void {
    this.everything = false;
    this.services.clear();
    this.nodes.clear();
    this.placedOn.clear();
    this.reachedRunning.clear();
  }

  /** The services to decide about now; clears what was collected. */
  private take(r: ReadView): Set<string> {
    const ids = new Set(this.services);
    const all = this.everything || this.nodes.size > 0 ? r.list("service").map((o) => as<Service>(o)) : [];
    if (this.everything) for (const s of all) ids.add(s.id);
    for (const nodeId of this.nodes) for (const t of r.find("task", "node", nodeId)) ids.add(as<Task>(t).serviceId);
    if (this.nodes.size > 0) for (const s of all) if (this.mode.owns(s) && this.mode.followsAllNodes(s)) ids.add(s.id);
    for (const [nodeId, services] of this.placedOn) {
      if (nodeFailure(as<Node | undefined>(r.get("node", nodeId)))) for (const id of services) ids.add(id);
    }
    for (const id of this.reachedRunning) {
      if (isBeingUpdated(as<Service | undefined>(r.get("service", id)))) ids.add(id);
    }
    this.clearCollected();
    ids.delete("");
    return ids;
  }

  protected async pass(): Promise<void> {
    const nowMs = this.clock.now();
    const steps: Step[] = [];
    try {
      this.store.view((r) => this.decide(r, nowMs, steps));
    } catch (e) {
      this.everything = true; // a decision failed (a broken invariant): look at everything on the retry
      throw e;
    }
    this.armAlarm();
    if (steps.length === 0) return;
    const result = await commitSteps(this.store, steps);
    for (const s of result.skipped) this.services.add(s.serviceId);
    if (result.skipped.length > 0) this.requestPass();
    for (const f of result.failed) {
      for (const s of f.steps) this.services.add(s.serviceId);
      this.retryLater(f.error);
    }
  }

  /** Makes the decisions about the services collected, adding their steps to `steps`. */
  private decide(r: ReadView, nowMs: number, steps: Step[]): void {
    let nodes: Node[] | null = null;
    const allNodes = (): Node[] => (nodes ??= r.list("node").map((o) => as<Node>(o)));
    const cluster = as<Cluster | undefined>(r.list("cluster")[0]);
    for (const id of [...this.take(r)].sort()) {
      const service = as<Service | undefined>(r.get("service", id));
      if (!service || service.pendingDelete || !this.mode.owns(service)) {
        this.wakeAt.delete(id);
        continue;
      }
      const decision = this.mode.decide({
        service,
        tasks: r.find("task", "service", id).map((o) => as<Task>(o)),
        node: (nodeId) => as<Node | undefined>(r.get("node", nodeId)),
        nodes: this.mode.followsAllNodes(service) ? allNodes() : [],
        cluster,
        nowMs,
        newId: this.opts.newId,
      });
      steps.push(...decision.steps);
      if (decision.wakeAtMs === null) this.wakeAt.delete(id);
      else this.wakeAt.set(id, decision.wakeAtMs);
    }
  }

  private armAlarm(): void {
    let next: number | null = null;
    for (const at of this.wakeAt.values()) if (next === null || at < next) next = at;
    this.alarm.set(next);
  }

  private onAlarm(): void {
    const now = this.clock.now();
    for (const [id, at] of this.wakeAt) {
      if (at > now) continue;
      this.services.add(id);
      this.wakeAt.delete(id);
    }
    this.armAlarm();
    this.requestPass();
  }
}
