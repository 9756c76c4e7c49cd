// Helpers for the orchestrators' tests: a fake clock with timers, a store on the real object model
// stamped by that clock, object fixtures, an agent's status reports and bounded polling. Not part
// of the API.
import { Node, Service, Task, type Cluster } from "../../proto/gen/objects.js";
import { NodeAvailability, NodeMembership, NodeState, TaskState, type RestartPolicy, type UpdateConfig, type UpdateStatus } from "../../proto/gen/types.js";
import type { ServiceSpec } from "../../proto/gen/specs.js";
import { LocalProposer, MemoryStore, SCHEMAS, protoCodec, stampMeta, type StoreObject } from "../store/index.js";
import type { OrchestratorClock } from "./clock.js";
import type { ServiceInput } from "./decisions/service-input.js";
import type { LeaderLoop } from "./leader-loop.js";

/** A clock that moves only when told; timers fire in time order as it passes them. */
export class FakeClock implements OrchestratorClock {
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;

  constructor(private ms = 1_000_000) {}

  now = (): number => this.ms;

  setTimer = (fn: () => void, ms: number): unknown => {
    const t = { at: this.ms + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(t);
    return t;
  };

  clearTimer = (handle: unknown): void => {
    this.timers = this.timers.filter((t) => t !== handle);
  };

  /** Timers waiting. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing each timer due on the way at its own time. */
  advance(ms: number): void {
    const end = this.ms + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.ms = Math.max(this.ms, due.at);
      due.fn();
    }
    this.ms = end;
  }
}

/** Ids t001, t002… */
export function sequentialIds(prefix = "t"): () => string {
  let n = 0;
  return () => `${prefix}${String(++n).padStart(3, "0")}`;
}

/** A store with the production codec and schemas, stamped by `clock`, applied locally. */
export function newStore(clock: FakeClock): MemoryStore {
  const store = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta, now: clock.now });
  store.setProposer(new LocalProposer(store));
  return store;
}

export const obj = (o: object): StoreObject => o as unknown as StoreObject;

export interface ServiceFixture {
  id: string;
  mode: ServiceSpec["mode"];
  restart?: Partial<RestartPolicy>;
  constraints?: string[];
  image?: string;
  specVersion?: number;
  jobIteration?: number;
  update?: Partial<UpdateConfig>;
  rollback?: Partial<UpdateConfig>;
  updateStatus?: Partial<UpdateStatus>;
  /** The previous spec: the same but for its image (and no update status), at this spec version. */
  previous?: { image: string; specVersion: number };
}

export function makeService(f: ServiceFixture): Service {
  const spec = (image: string) => ({
    annotations: { name: f.id },
    mode: f.mode,
    task: {
      runtime: { $case: "container" as const, container: { image } },
      ...(f.restart ? { restart: f.restart } : {}),
      ...(f.constraints ? { placement: { constraints: f.constraints } } : {}),
    },
    ...(f.update ? { update: f.update } : {}),
    ...(f.rollback ? { rollback: f.rollback } : {}),
  });
  return Service.fromPartial({
    id: f.id,
    spec: spec(f.image ?? "busybox"),
    specVersion: { index: f.specVersion ?? 1 },
    ...(f.previous ? { previousSpec: spec(f.previous.image), previousSpecVersion: { index: f.previous.specVersion } } : {}),
    ...(f.updateStatus ? { updateStatus: f.updateStatus } : {}),
    ...(f.jobIteration !== undefined ? { jobStatus: { jobIteration: { index: f.jobIteration }, lastExecutionUnixMs: 0 } } : {}),
  });
}

export const replicated = (replicas: number): ServiceSpec["mode"] => ({ $case: "replicated", replicated: { replicas } });
export const global: ServiceSpec["mode"] = { $case: "global", global: {} };
export const replicatedJob = (maxConcurrent: number, totalCompletions: number): ServiceSpec["mode"] => ({
  $case: "replicatedJob",
  replicatedJob: { maxConcurrent, totalCompletions },
});
export const globalJob: ServiceSpec["mode"] = { $case: "globalJob", globalJob: {} };

export interface NodeFixture {
  id: string;
  state?: NodeState;
  availability?: NodeAvailability;
  labels?: Record<string, string>;
  nanoCpus?: number;
  memoryBytes?: number;
}

export function makeNode(f: NodeFixture): Node {
  return Node.fromPartial({
    id: f.id,
    spec: {
      annotations: { name: f.id, labels: f.labels ?? {} },
      membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED,
      availability: f.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE,
    },
    description: {
      hostname: f.id,
      platform: { os: "linux", architecture: "amd64" },
      ...(f.nanoCpus !== undefined || f.memoryBytes !== undefined ? { resources: { nanoCpus: f.nanoCpus ?? 0, memoryBytes: f.memoryBytes ?? 0 } } : {}),
    },
    status: { state: f.state ?? NodeState.NODE_STATE_READY },
  });
}

export async function put(store: MemoryStore, kind: "service" | "node" | "cluster", o: Service | Node | Cluster): Promise<void> {
  await store.update((tx) => tx.create(kind, obj(o)));
}

/** Rewrites a stored object through `change` (on a copy). */
export async function change<T extends Service | Node | Task>(store: MemoryStore, kind: "service" | "node" | "task", id: string, fn: (o: T) => void): Promise<void> {
  await store.update((tx) => {
    const cur = tx.get(kind, id) as unknown as T;
    const next = structuredClone(cur);
    fn(next);
    tx.update(kind, obj(next));
  });
}

export const tasksOf = (store: MemoryStore, serviceId: string): Task[] =>
  store.view((r) => r.find("task", "service", serviceId) as unknown as Task[]).sort((a, b) => a.slot - b.slot || (a.id < b.id ? -1 : 1));

export const taskOf = (store: MemoryStore, id: string): Task | undefined => store.view((r) => r.get("task", id)) as unknown as Task | undefined;

/** The service's tasks wanted to run (desired RUNNING or below). */
export const liveTasks = (store: MemoryStore, serviceId: string): Task[] => tasksOf(store, serviceId).filter((t) => t.desiredState <= TaskState.TASK_STATE_RUNNING);

/**
 * What an agent (and scheduler) would write: the task on `nodeId`, observed `state` at the clock's
 * time, committed by the dispatcher at that time.
 */
export async function report(store: MemoryStore, clock: FakeClock, taskId: string, state: TaskState, nodeId?: string, exitCode = 0): Promise<void> {
  await change<Task>(store, "task", taskId, (t) => {
    if (nodeId !== undefined) t.nodeId = nodeId;
    t.status = {
      ...t.status!,
      state,
      message: "reported",
      timestampUnixMs: clock.now(),
      appliedAtUnixMs: clock.now(),
      container: { containerId: "c", pid: 0, exitCode },
    };
  });
}

/** Polls `cond` once per turn of the event loop; fails with `what` after 2,000 turns. */
export async function until<T>(what: string, cond: () => T | undefined | null | false): Promise<T> {
  for (let i = 0; i < 2_000; i++) {
    const v = cond();
    if (v) return v;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface TaskFixture {
  id: string;
  serviceId?: string;
  slot?: number;
  node?: string;
  /** Observed state; default RUNNING. */
  state?: TaskState;
  /** Default RUNNING. */
  desired?: TaskState;
  createdAt?: number;
  /** When its status was committed (ended, for a stopped task). */
  statusAt?: number;
  /** Last write; default statusAt. */
  updatedAt?: number;
  version?: number;
  specVersion?: number;
  iteration?: number;
  restart?: Partial<RestartPolicy>;
  image?: string;
}

/** A task of service "s" (unless told) with the fixture service's spec. */
export function makeTask(f: TaskFixture): Task {
  const statusAt = f.statusAt ?? f.createdAt ?? 0;
  return Task.fromPartial({
    id: f.id,
    serviceId: f.serviceId ?? "s",
    slot: f.slot ?? 0,
    nodeId: f.node ?? "",
    desiredState: f.desired ?? TaskState.TASK_STATE_RUNNING,
    status: { state: f.state ?? TaskState.TASK_STATE_RUNNING, timestampUnixMs: statusAt, appliedAtUnixMs: statusAt },
    meta: { version: { index: f.version ?? 1 }, createdAtUnixMs: f.createdAt ?? 0, updatedAtUnixMs: f.updatedAt ?? statusAt },
    specVersion: { index: f.specVersion ?? 1 },
    spec: {
      runtime: { $case: "container", container: { image: f.image ?? "busybox" } },
      ...(f.restart ? { restart: f.restart } : {}),
    },
    ...(f.iteration !== undefined ? { jobIteration: { index: f.iteration } } : {}),
  });
}

/** A decision's input from plain lists. */
export function serviceInput(service: Service, tasks: Task[], nodes: Node[] = [], nowMs = 0, newId = sequentialIds("new")): ServiceInput {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  return { service, tasks, node: (id) => byId.get(id), nodes, nowMs, newId };
}

/** Lets the runners' passes and the store's events run until nothing is left to do. */
export async function quiesce(...loops: LeaderLoop[]): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setImmediate(r));
    for (const l of loops) await l.settled();
  }
}
