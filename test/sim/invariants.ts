// The invariants a settled cluster holds, checked against the simulation's model (what was asked)
// rather than the components' own reasoning. Each violation is a sentence naming the service, node
// or task, what was found and what was expected.
//   replicated: exactly `replicas` wanted tasks in distinct slots; all RUNNING, or the rest PENDING
//               with "no suitable node (…)" and no available node with room for another one
//   global:     one RUNNING task on every available node matching the placement; a paused node
//               keeps only what it had; none anywhere else
//   nodes:      running tasks meet their constraints and fit the capacity of available nodes;
//               max replicas per node hold; DOWN, drained and removed nodes have no wanted task;
//               they meet their service's current constraints too (a task kept through a
//               placement-only update is replaced once its node is relabelled out of them)
//   slots:      no slot has two RUNNING tasks
//   removal:    a removed service's tasks are unwanted, and gone unless stuck on a DOWN node
//   history:    the reaper keeps at most TASK_HISTORY stopped tasks per slot and no stopped REMOVE task
import type { Node, Service, Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import type { MemoryStore } from "../../manager/store/index.js";
import { satisfies, type ClusterModel, type SimNode, type SimService } from "./model.js";

/** Stopped tasks kept per slot when the cluster sets no retention limit (SwarmKit's default of 5). */
export const TASK_HISTORY = 5;

const S = TaskState;
const stateOf = (t: Task): TaskState => t.status?.state ?? S.TASK_STATE_NEW;
const stateName = (s: TaskState): string => (TaskState[s] ?? String(s)).replace("TASK_STATE_", "");
/** Wanted: desired RUNNING or below. */
const isWanted = (t: Task): boolean => t.desiredState <= S.TASK_STATE_RUNNING;
/** Running as wanted: desired and observed RUNNING. */
const runs = (t: Task): boolean => t.desiredState === S.TASK_STATE_RUNNING && stateOf(t) === S.TASK_STATE_RUNNING;
/** Holds resources on its node: placed and not stopped, whatever its desired state. */
const holds = (t: Task): boolean => t.nodeId !== "" && stateOf(t) >= S.TASK_STATE_ASSIGNED && stateOf(t) <= S.TASK_STATE_RUNNING;
/** Stopped for good: observed past RUNNING, or unwanted and never placed. */
const isStopped = (t: Task): boolean => stateOf(t) > S.TASK_STATE_RUNNING || (!isWanted(t) && stateOf(t) < S.TASK_STATE_ASSIGNED);
const slotKey = (t: Task): string => (t.slot > 0 ? `${t.serviceId}/${t.slot}` : `${t.serviceId}@${t.nodeId}`);

export function describeTask(t: Task): string {
  const err = t.status?.err ? ` err=${JSON.stringify(t.status.err)}` : "";
  return `${t.id}(${slotKey(t)} on ${t.nodeId || "-"}, ${stateName(stateOf(t))} desired ${stateName(t.desiredState)}${err})`;
}

interface Snapshot {
  nodes: Map<string, Node>;
  services: Map<string, Service>;
  tasks: Task[];
  byService: Map<string, Task[]>;
  /** Tasks holding each node. */
  holding: Map<string, Task[]>;
}

function snapshot(store: MemoryStore): Snapshot {
  return store.view((r) => {
    const tasks = (r.list("task") as unknown as Task[]).slice().sort((a, b) => (a.id < b.id ? -1 : 1));
    const byService = new Map<string, Task[]>();
    const holding = new Map<string, Task[]>();
    for (const t of tasks) {
      byService.set(t.serviceId, [...(byService.get(t.serviceId) ?? []), t]);
      if (holds(t)) holding.set(t.nodeId, [...(holding.get(t.nodeId) ?? []), t]);
    }
    return {
      nodes: new Map((r.list("node") as unknown as Node[]).map((n) => [n.id, n])),
      services: new Map((r.list("service") as unknown as Service[]).map((s) => [s.id, s])),
      tasks,
      byService,
      holding,
    };
  });
}


/** Every violation of the invariants, in a stable order; empty when the cluster is as asked. */
export function checkInvariants(model: ClusterModel, store: MemoryStore): string[] {
  const snap = snapshot(store);
  const out: string[] = [];
  checkObjects(model, snap, out);
  for (const s of model.services.values()) {
    if (s.mode === "replicated") checkReplicated(model, snap, s, out);
    else checkGlobal(model, snap, s, out);
  }
  for (const n of model.nodes.values()) checkNode(model, snap, n, out);
  checkSlots(model, snap, out);
  checkRemoved(model, snap, out);
  checkHistory(model, snap, out);
  return out;
}

function checkObjects(model: ClusterModel, snap: Snapshot, out: string[]): void {
  const want = [...model.services.keys()].sort().join(",");
  const have = [...snap.services.keys()].sort().join(",");
  if (want !== have) out.push(`the store holds services [${have}], expected [${want}]`);
  for (const n of model.nodes.values()) if (!snap.nodes.has(n.id)) out.push(`node ${n.id} is missing from the store`);
  for (const t of snap.tasks) {
    if (!model.services.has(t.serviceId) && !model.removedServices.has(t.serviceId)) out.push(`task ${describeTask(t)} belongs to no service the simulation made`);
    if (t.nodeId !== "" && isWanted(t) && !model.nodes.has(t.nodeId)) out.push(`task ${describeTask(t)} is wanted on node ${t.nodeId}, which was removed`);
  }
}

/** Whether another task of `s` fits on `n` now: capacity left after the tasks holding it, and the per-node limit. */
function hasRoom(snap: Snapshot, n: SimNode, s: SimService): boolean {
  const held = snap.holding.get(n.id) ?? [];
  let cpus = n.nanoCpus;
  let memory = n.memoryBytes;
  for (const t of held) {
    cpus -= t.spec?.resources?.reservations?.nanoCpus ?? 0;
    memory -= t.spec?.resources?.reservations?.memoryBytes ?? 0;
  }
  if (s.nanoCpus > 0 && s.nanoCpus > cpus) return false;
  if (s.memoryBytes > 0 && s.memoryBytes > memory) return false;
  return s.maxReplicas === 0 || held.filter((t) => t.serviceId === s.id).length < s.maxReplicas;
}

function checkReplicated(model: ClusterModel, snap: Snapshot, s: SimService, out: string[]): void {
  const wanted = (snap.byService.get(s.id) ?? []).filter(isWanted);
  const running = wanted.filter(runs);
  const name = `service ${s.name} (${s.id}, replicas ${s.replicas})`;
  if (wanted.length !== s.replicas) out.push(`${name}: ${wanted.length} wanted tasks, expected ${s.replicas}: ${wanted.map(describeTask).join(", ")}`);
  const slots = new Set(wanted.map((t) => t.slot));
  if (slots.size !== wanted.length || slots.has(0)) out.push(`${name}: wanted tasks share slots: ${wanted.map(describeTask).join(", ")}`);
  if (running.length >= s.replicas) return;
  const roomy = [...model.nodes.values()].filter((n) => model.available(n) && satisfies(n.labels, s.constraints) && hasRoom(snap, n, s));
  if (roomy.length > 0) out.push(`${name}: ${running.length} running, yet nodes ${roomy.map((n) => n.id).join(", ")} have room for another`);
  for (const t of wanted) {
    if (runs(t)) continue;
    if (stateOf(t) !== S.TASK_STATE_PENDING || t.desiredState !== S.TASK_STATE_RUNNING || !/^no suitable node( \(|$)/.test(t.status?.err ?? "")) {
      out.push(`${name}: task ${describeTask(t)} neither runs nor waits PENDING with "no suitable node (…)"`);
    }
  }
}

function checkGlobal(model: ClusterModel, snap: Snapshot, s: SimService, out: string[]): void {
  const tasks = snap.byService.get(s.id) ?? [];
  const name = `global service ${s.name} (${s.id})`;
  for (const n of model.nodes.values()) {
    const wanted = tasks.filter((t) => t.nodeId === n.id && isWanted(t));
    const matches = satisfies(n.labels, s.constraints);
    if (model.available(n) && matches) {
      if (wanted.length !== 1 || !runs(wanted[0]!)) out.push(`${name}: node ${n.id} should run exactly one task, has ${wanted.map(describeTask).join(", ") || "none"}`);
    } else if (n.ready && n.availability === "pause" && matches) {
      if (wanted.length > 1) out.push(`${name}: paused node ${n.id} has ${wanted.length} wanted tasks: ${wanted.map(describeTask).join(", ")}`);
    } else if (wanted.length > 0) {
      out.push(`${name}: node ${n.id} (${nodeSummary(n)}, placement ${matches ? "holds" : "fails"}) should run none, has ${wanted.map(describeTask).join(", ")}`);
    }
  }
  for (const t of tasks) if (isWanted(t) && t.nodeId === "") out.push(`${name}: task ${describeTask(t)} names no node`);
}

function checkNode(model: ClusterModel, snap: Snapshot, n: SimNode, out: string[]): void {
  const onNode = snap.tasks.filter((t) => t.nodeId === n.id);
  const held = snap.holding.get(n.id) ?? [];
  const at = `node ${n.id} (${nodeSummary(n)})`;
  if (model.available(n)) {
    const cpus = held.reduce((sum, t) => sum + (t.spec?.resources?.reservations?.nanoCpus ?? 0), 0);
    const memory = held.reduce((sum, t) => sum + (t.spec?.resources?.reservations?.memoryBytes ?? 0), 0);
    if (cpus > n.nanoCpus || memory > n.memoryBytes) out.push(`${at}: its tasks reserve ${cpus / 1e9} CPUs and ${memory} bytes, over its capacity`);
    for (const t of onNode.filter(runs)) {
      const service = model.services.get(t.serviceId);
      if (!satisfies(n.labels, t.spec?.placement?.constraints ?? [])) out.push(`${at}: runs ${describeTask(t)}, whose constraints it fails`);
      else if (service && !satisfies(n.labels, service.constraints)) out.push(`${at}: runs ${describeTask(t)}, failing the service's constraints now [${service.constraints}]`);
    }
  }
  for (const s of model.services.values()) {
    if (s.maxReplicas === 0) continue;
    const count = held.filter((t) => t.serviceId === s.id).length;
    if (count > s.maxReplicas) out.push(`${at}: holds ${count} tasks of ${s.name}, over its max replicas per node ${s.maxReplicas}`);
  }
  const wanted = onNode.filter(isWanted);
  if ((!n.ready || n.availability === "drain") && wanted.length > 0) out.push(`${at}: still has wanted tasks ${wanted.map(describeTask).join(", ")}`);
  if (n.keptOnPause) {
    const added = wanted.filter((t) => !n.keptOnPause!.has(t.id));
    if (added.length > 0) out.push(`${at}: got tasks after it was paused: ${added.map(describeTask).join(", ")}`);
  }
}

function checkSlots(model: ClusterModel, snap: Snapshot, out: string[]): void {
  const seen = new Map<string, Task>();
  for (const t of snap.tasks) {
    const onLiveNode = model.nodes.get(t.nodeId)?.ready === true && stateOf(t) === S.TASK_STATE_RUNNING;
    if (!runs(t) && !onLiveNode) continue;
    const other = seen.get(slotKey(t));
    if (other) out.push(`slot ${slotKey(t)} has two running tasks: ${describeTask(other)} and ${describeTask(t)}`);
    else seen.set(slotKey(t), t);
  }
}

function checkRemoved(model: ClusterModel, snap: Snapshot, out: string[]): void {
  for (const id of model.removedServices) {
    for (const t of snap.byService.get(id) ?? []) {
      if (isWanted(t)) out.push(`task ${describeTask(t)} of removed service ${id} is still wanted`);
      else if (!holds(t) || model.nodes.get(t.nodeId)?.ready !== false) out.push(`task ${describeTask(t)} of removed service ${id} was not deleted`);
    }
  }
}

function checkHistory(model: ClusterModel, snap: Snapshot, out: string[]): void {
  const bySlot = new Map<string, Task[]>();
  for (const t of snap.tasks) {
    if (!model.services.has(t.serviceId)) continue;
    if (t.desiredState >= S.TASK_STATE_REMOVE && isStopped(t)) out.push(`task ${describeTask(t)} is stopped and desired REMOVE, yet not deleted`);
    if (t.desiredState < S.TASK_STATE_REMOVE && isStopped(t)) bySlot.set(slotKey(t), [...(bySlot.get(slotKey(t)) ?? []), t]);
  }
  for (const [key, stopped] of bySlot) {
    if (stopped.length > TASK_HISTORY) out.push(`slot ${key} keeps ${stopped.length} stopped tasks, over the history of ${TASK_HISTORY}: ${stopped.map(describeTask).join(", ")}`);
  }
}

export function nodeSummary(n: SimNode): string {
  const labels = Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(",");
  return `${n.ready ? "READY" : "DOWN"} ${n.availability} [${labels}] ${n.nanoCpus / 1e9} CPUs ${n.memoryBytes / 2 ** 30} GiB`;
}

/** The cluster as the store has it, one line per node and one for unplaced tasks, for failure reports. */
export function dumpCluster(model: ClusterModel, store: MemoryStore): string {
  const snap = snapshot(store);
  const lines: string[] = [];
  for (const n of model.nodes.values()) {
    const tasks = snap.tasks.filter((t) => t.nodeId === n.id && !isStopped(t));
    lines.push(`  ${n.id} ${nodeSummary(n)}: ${tasks.map(describeTask).join(" ") || "-"}`);
  }
  const unplaced = snap.tasks.filter((t) => t.nodeId === "" && !isStopped(t));
  lines.push(`  unplaced: ${unplaced.map(describeTask).join(" ") || "-"}`);
  for (const s of model.services.values()) {
    lines.push(`  ${s.id} ${s.name} ${s.mode}${s.mode === "replicated" ? ` x${s.replicas}` : ""} [${s.constraints}] cpu=${s.nanoCpus / 1e9} mem=${s.memoryBytes / 2 ** 20}MiB max/node=${s.maxReplicas}`);
  }
  return lines.join("\n");
}
