// A deliberately plain re-implementation of schedule() for tests: no heaps, no tree, no caches —
// every check recomputes from the raw nodes and the list of holds. The seeded simulation compares
// the two decision for decision. Not part of the API.
import type { Node, Task } from "../proto/gen/objects.js";
import { NodeAvailability, NodeState, PublishMode, TaskState } from "../proto/gen/types.js";
import { constraintHolds, constraintKey, nodeValue, parseConstraint } from "./constraint.js";
import { normalizeArch } from "./platform.js";
import type { ScheduleInput, ScheduleResult } from "./schedule.js";

interface Hold {
  nodeId: string;
  serviceId: string;
  cpu: number;
  memory: number;
  generic: [string, number][];
  ports: string[];
}

function reservedGeneric(task: Task): [string, number][] {
  const out: [string, number][] = [];
  for (const g of task.spec?.resources?.reservations?.generic ?? []) {
    if (g.resource?.$case === "discrete") out.push([g.resource.discrete.kind, g.resource.discrete.value]);
  }
  return out;
}

function hostPortsOf(task: Task): string[] {
  const ports = [...(task.endpoint?.ports ?? []), ...(task.endpoint?.spec?.ports ?? [])];
  return ports.filter((p) => p.publishMode === PublishMode.PUBLISH_MODE_HOST && p.publishedPort !== 0).map((p) => `${p.protocol}/${p.publishedPort}`);
}

function holdOf(task: Task, nodeId: string): Hold {
  const r = task.spec?.resources?.reservations;
  return { nodeId, serviceId: task.serviceId, cpu: r?.nanoCpus ?? 0, memory: r?.memoryBytes ?? 0, generic: reservedGeneric(task), ports: hostPortsOf(task) };
}

/** The label of the first filter refusing `node` for `task`, or null when the node takes it. */
export function naiveRefusal(node: Node, task: Task, holds: readonly Hold[]): string | null {
  if (node.status?.state !== NodeState.NODE_STATE_READY || node.spec?.availability !== NodeAvailability.NODE_AVAILABILITY_ACTIVE) return "ready";
  const mine = holds.filter((h) => h.nodeId === node.id);
  const capacity = node.description?.resources;
  const need = task.spec?.resources?.reservations;
  const sum = (f: (h: Hold) => number): number => mine.reduce((s, h) => s + f(h), 0);
  if ((need?.memoryBytes ?? 0) > 0 && need!.memoryBytes > (capacity?.memoryBytes ?? 0) - sum((h) => h.memory)) return "memory";
  if ((need?.nanoCpus ?? 0) > 0 && need!.nanoCpus > (capacity?.nanoCpus ?? 0) - sum((h) => h.cpu)) return "CPU";
  for (const [kind, n] of reservedGeneric(task)) {
    let have = 0;
    for (const g of capacity?.generic ?? []) if (g.resource?.$case === "discrete" && g.resource.discrete.kind === kind) have += g.resource.discrete.value;
    const used = sum((h) => h.generic.filter(([k]) => k === kind).reduce((s, [, v]) => s + v, 0));
    if (n > 0 && n > have - used) return kind;
  }
  for (const expr of task.spec?.placement?.constraints ?? []) {
    let holdsOnNode: boolean;
    try {
      holdsOnNode = constraintHolds(node, parseConstraint(expr));
    } catch {
      holdsOnNode = false;
    }
    if (!holdsOnNode) return "constraints";
  }
  const platforms = task.spec?.placement?.platforms ?? [];
  const p = node.description?.platform;
  const platformOk =
    platforms.length === 0 ||
    (p !== undefined &&
      platforms.some(
        (want) =>
          (want.os === "" || want.os.toLowerCase() === p.os.toLowerCase()) &&
          (want.architecture === "" || normalizeArch(want.architecture) === normalizeArch(p.architecture)),
      ));
  if (!platformOk) return "platform";
  const used = new Set(mine.flatMap((h) => h.ports));
  if (hostPortsOf(task).some((port) => used.has(port))) return "ports";
  const max = task.spec?.placement?.maxReplicas ?? 0;
  if (max > 0 && mine.filter((h) => h.serviceId === task.serviceId).length >= max) return "maxReplicas";
  return null;
}

const TEXT: Record<string, (n: string) => string> = {
  ready: (n) => `${n} not available for new tasks`,
  constraints: (n) => `scheduling constraints not satisfied on ${n}`,
  platform: (n) => `unsupported platform on ${n}`,
  ports: (n) => `host-mode port already in use on ${n}`,
  maxReplicas: (n) => `max replicas per node limit exceed on ${n}`,
};

function naiveReason(nodes: readonly Node[], task: Task, holds: readonly Hold[]): string {
  const order = ["ready", "memory", "CPU", ...reservedGeneric(task).map(([k]) => k), "constraints", "platform", "ports", "maxReplicas"];
  const counts = new Map<string, number>();
  for (const node of nodes) {
    const r = naiveRefusal(node, task, holds);
    if (r !== null) counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  if (counts.size === 0) return "no suitable node";
  const parts = [...counts]
    .sort((a, b) => b[1] - a[1] || order.indexOf(a[0]) - order.indexOf(b[0]))
    .map(([label, n]) => (TEXT[label] ?? ((x: string) => `insufficient ${label} on ${x}`))(n === 1 ? "1 node" : `${n} nodes`));
  return `no suitable node (${parts.join("; ")})`;
}

/** schedule(), the slow and obvious way. */
export function naiveSchedule(input: ScheduleInput): ScheduleResult {
  const pendingIds = new Set(input.pending.map((t) => t.id));
  const holds: Hold[] = [];
  for (const t of input.tasks) {
    const state = t.status?.state ?? 0;
    if (!pendingIds.has(t.id) && t.nodeId !== "" && state >= TaskState.TASK_STATE_ASSIGNED && state <= TaskState.TASK_STATE_RUNNING && input.nodes.some((n) => n.id === t.nodeId)) {
      holds.push(holdOf(t, t.nodeId));
    }
  }
  const result: ScheduleResult = { assigned: [], unschedulable: [] };
  for (const t of input.pending) {
    if (t.nodeId === "") continue;
    const node = input.nodes.find((n) => n.id === t.nodeId);
    const refusal = node ? naiveRefusal(node, t, holds) : "missing";
    if (refusal === null) {
      holds.push(holdOf(t, t.nodeId));
      result.assigned.push({ taskId: t.id, nodeId: t.nodeId });
    } else {
      const reason = node ? naiveReason([node], t, holds) : `no suitable node (node ${t.nodeId} not found)`;
      result.unschedulable.push({ taskId: t.id, reason });
    }
  }
  const groups: Task[][] = [];
  for (const t of input.pending) {
    if (t.nodeId !== "") continue;
    const key = `${t.serviceId}/${t.specVersion?.index ?? 0}`;
    const group = t.serviceId === "" ? undefined : groups.find((g) => `${g[0]!.serviceId}/${g[0]!.specVersion?.index ?? 0}` === key);
    if (group) group.push(t);
    else groups.push([t]);
  }
  for (const group of groups) {
    const lead = group[0]!;
    let reason: string | null = null;
    for (const t of group) {
      if (reason === null) {
        const choice = naiveChoice(input, lead, holds);
        if (choice) {
          holds.push(holdOf(lead, choice.id));
          result.assigned.push({ taskId: t.id, nodeId: choice.id });
          continue;
        }
        reason = naiveReason(input.nodes, lead, holds);
      }
      result.unschedulable.push({ taskId: t.id, reason });
    }
  }
  return result;
}

/** The node for one more task like `task`: emptiest branch level by level, then the best-ranked node. */
function naiveChoice(input: ScheduleInput, task: Task, holds: readonly Hold[]): Node | null {
  let fits = input.nodes.filter((n) => naiveRefusal(n, task, holds) === null);
  if (fits.length === 0) return null;
  const svcTasks = (nodeId: string): number => holds.filter((h) => h.nodeId === nodeId && h.serviceId === task.serviceId).length;
  let branch = input.nodes;
  for (const pref of task.spec?.placement?.preferences ?? []) {
    const key = constraintKey(pref.spread?.spreadDescriptor ?? "");
    if (key === null) continue;
    const values = [...new Set(fits.map((n) => nodeValue(n, key)))].sort();
    const load = (v: string): number => branch.filter((n) => nodeValue(n, key) === v).reduce((s, n) => s + svcTasks(n.id), 0);
    const best = values.reduce((a, b) => (load(b) < load(a) ? b : a));
    branch = branch.filter((n) => nodeValue(n, key) === best);
    fits = fits.filter((n) => nodeValue(n, key) === best);
  }
  const failures = (nodeId: string): number => {
    const n = (input.failures ?? []).filter(
      (f) => f.nodeId === nodeId && f.serviceId === task.serviceId && f.specVersion === (task.specVersion?.index ?? 0) && input.nowMs - f.atMs < 300_000,
    ).length;
    return n >= 5 ? n : 0;
  };
  const rank = (n: Node): [number, number, number, string] => [failures(n.id), svcTasks(n.id), holds.filter((h) => h.nodeId === n.id).length, n.id];
  return fits.reduce((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < 4; i++) if (ra[i] !== rb[i]) return ra[i]! < rb[i]! ? a : b;
    return a;
  });
}
