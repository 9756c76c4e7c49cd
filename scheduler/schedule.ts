// Placement of pending tasks over a snapshot of nodes and tasks. Pure: time comes in as `nowMs`.
// Tasks that already name a node (global services) are checked against that node alone, first.
// The others are grouped by (service, spec version): the static filters run once per group, then the
// group's tasks are placed one by one along the spread tree, each node's load updated as they land.
// Groups run in the order their first task appears in `pending`; tasks in `pending` order.
import type { Node, Task } from "../proto/gen/objects.js";
import { taskDemand, type TaskDemand } from "./demand.js";
import { noSuitableNode } from "./explain.js";
import { failurePenalty, recentFailures, type TaskFailure } from "./failures.js";
import { firstRefusal, hasRoom, staticRefusal, type Refusal, type StaticRefusal } from "./filters.js";
import { buildNodeStates, type NodeState } from "./node-state.js";
import { SpreadTree, type Candidate } from "./spread.js";

export interface ScheduleInput {
  /** Every node in the store. */
  nodes: readonly Node[];
  /** Every task the scheduler must account for; those ASSIGNED..RUNNING on a node hold it. */
  tasks: readonly Task[];
  /** The tasks to place (the runner passes PENDING tasks with desired state ≤ RUNNING). */
  pending: readonly Task[];
  /** Recent failures, for ranking nodes where a service version keeps failing last. */
  failures?: readonly TaskFailure[];
  nowMs: number;
}

export interface Assignment {
  taskId: string;
  nodeId: string;
}

export interface Unschedulable {
  taskId: string;
  /** "no suitable node (…)", for the task's status.err. */
  reason: string;
}

export interface ScheduleResult {
  assigned: Assignment[];
  unschedulable: Unschedulable[];
}

/** Tasks placed together: same service and spec version; a task without a service is alone. */
function groupKey(t: Task): string {
  if (t.serviceId === "" || t.spec?.runtime?.$case === "attachment") return `task\0${t.id}`;
  return `${t.serviceId}\0${t.specVersion?.index ?? 0}`;
}

export function schedule(input: ScheduleInput): ScheduleResult {
  const states = buildNodeStates(input.nodes, input.tasks, new Set(input.pending.map((t) => t.id)));
  const result: ScheduleResult = { assigned: [], unschedulable: [] };
  const groups = new Map<string, Task[]>();
  for (const t of input.pending) {
    if (t.nodeId !== "") {
      placeOnOwnNode(t, states, result);
      continue;
    }
    const key = groupKey(t);
    const group = groups.get(key);
    if (group) group.push(t);
    else groups.set(key, [t]);
  }
  const all = [...states.values()];
  for (const group of groups.values()) placeGroup(group, all, input, result);
  return result;
}

function placeOnOwnNode(t: Task, states: Map<string, NodeState>, result: ScheduleResult): void {
  const state = states.get(t.nodeId);
  if (!state) {
    result.unschedulable.push({ taskId: t.id, reason: `no suitable node (node ${t.nodeId} not found)` });
    return;
  }
  const demand = taskDemand(t);
  const refusal = firstRefusal(state, demand, staticRefusal(state.node, demand));
  if (refusal) {
    result.unschedulable.push({ taskId: t.id, reason: noSuitableNode([refusal], demand) });
    return;
  }
  state.hold(demand.serviceId, demand.reservations, demand.hostPorts);
  result.assigned.push({ taskId: t.id, nodeId: t.nodeId });
}

function placeGroup(group: Task[], states: NodeState[], input: ScheduleInput, result: ScheduleResult): void {
  const first = group[0]!;
  const demand = taskDemand(first);
  const failures = recentFailures(input.failures ?? [], first.serviceId, first.specVersion?.index ?? 0, input.nowMs);
  const statics: (StaticRefusal | null)[] = states.map((s) => staticRefusal(s.node, demand));
  const candidates = states.map((state, i): Candidate | null =>
    statics[i] === null ? { state, penalty: failurePenalty(failures.get(state.id) ?? 0), serviceCount: state.tasksOf(demand.serviceId) } : null,
  );
  const tree = new SpreadTree(demand.spreadKeys, demand.serviceId, states, candidates);
  const fits = (c: Candidate): boolean => hasRoom(c.state, demand);
  const hold = (c: Candidate): void => c.state.hold(demand.serviceId, demand.reservations, demand.hostPorts);
  let placed = 0;
  for (; placed < group.length; placed++) {
    const c = tree.place(fits, hold);
    if (!c) break;
    result.assigned.push({ taskId: group[placed]!.id, nodeId: c.state.id });
  }
  if (placed === group.length) return;
  const reason = explainGroup(states, statics, demand);
  for (const t of group.slice(placed)) result.unschedulable.push({ taskId: t.id, reason });
}

function explainGroup(states: NodeState[], statics: (StaticRefusal | null)[], demand: TaskDemand): string {
  const refusals: Refusal[] = [];
  states.forEach((s, i) => {
    const r = firstRefusal(s, demand, statics[i]!);
    if (r) refusals.push(r);
  });
  return noSuitableNode(refusals, demand);
}
