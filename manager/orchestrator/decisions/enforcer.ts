// The constraint enforcer's decision for one node: the tasks placed on it whose placement no
// longer holds, and — when the node's resources shrank — the most recently created tasks until the
// rest fit. They become observed REJECTED and desired SHUTDOWN; the orchestrators replace them
// elsewhere. Paused nodes keep their tasks; drained ones are the orchestrators' to empty. Pure.
import type { Node, Task } from "../../../proto/gen/objects.js";
import { NodeAvailability, TaskState, TaskStatus } from "../../../proto/gen/types.js";
import { nodeMatchesPlacement } from "../../../scheduler/index.js";
import { step, type Step } from "./plan.js";
import { byCreation, isLive, observedState } from "./task-state.js";

export const CONSTRAINTS_ERR = "assigned node no longer meets constraints";
export const RESOURCES_ERR = "assigned node no longer has enough resources";
export const REJECTED_MESSAGE = "task rejected by constraint enforcer";

export interface Rejection {
  task: Task;
  err: string;
}

/** Each resource a task may reserve, by key: "cpu", "memory", "discrete:KIND", "named:KIND=VALUE". */
type Amounts = Map<string, number>;

function add(m: Amounts, key: string, n: number): void {
  if (n !== 0) m.set(key, (m.get(key) ?? 0) + n);
}

function capacity(node: Node): Amounts | null {
  const r = node.description?.resources;
  if (!r) return null;
  const m: Amounts = new Map([["cpu", r.nanoCpus], ["memory", r.memoryBytes]]);
  for (const g of r.generic) {
    if (g.resource?.$case === "discrete") add(m, `discrete:${g.resource.discrete.kind}`, g.resource.discrete.value);
    if (g.resource?.$case === "named") add(m, `named:${g.resource.named.kind}=${g.resource.named.value}`, 1);
  }
  return m;
}

function reservations(t: Task): Amounts {
  const r = t.spec?.resources?.reservations;
  const m: Amounts = new Map();
  add(m, "cpu", r?.nanoCpus ?? 0);
  add(m, "memory", r?.memoryBytes ?? 0);
  for (const g of t.assignedGenericResources) {
    if (g.resource?.$case === "discrete") add(m, `discrete:${g.resource.discrete.kind}`, g.resource.discrete.value);
    if (g.resource?.$case === "named") add(m, `named:${g.resource.named.kind}=${g.resource.named.value}`, 1);
  }
  return m;
}

/** The tasks, newest first, to take off the node until the others' reservations fit its capacity. */
function overReserved(node: Node, tasks: readonly Task[]): Task[] {
  const cap = capacity(node);
  if (!cap) return []; // resources unknown (not described yet): nothing to check
  const left = tasks.map((task) => ({ task, uses: reservations(task) }));
  const out: Task[] = [];
  for (;;) {
    const used: Amounts = new Map();
    for (const l of left) for (const [k, n] of l.uses) add(used, k, n);
    const over = new Set([...used].filter(([k, n]) => n > (cap.get(k) ?? 0)).map(([k]) => k));
    if (over.size === 0) return out;
    const i = left.findLastIndex((l) => [...l.uses.keys()].some((k) => over.has(k)));
    out.push(left[i]!.task);
    left.splice(i, 1);
  }
}

/** The tasks on `node` to reject, oldest first, with why. */
export function tasksToReject(node: Node, tasks: readonly Task[]): Rejection[] {
  if ((node.spec?.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE) !== NodeAvailability.NODE_AVAILABILITY_ACTIVE) return [];
  const placed = tasks
    .filter((t) => {
      const s = observedState(t);
      return t.nodeId === node.id && isLive(t) && s >= TaskState.TASK_STATE_ASSIGNED && s <= TaskState.TASK_STATE_RUNNING;
    })
    .sort(byCreation);
  const out: Rejection[] = [];
  const fitting: Task[] = [];
  for (const t of placed) {
    if (nodeMatchesPlacement(node, t.spec?.placement)) fitting.push(t);
    else out.push({ task: t, err: CONSTRAINTS_ERR });
  }
  for (const task of overReserved(node, fitting)) out.push({ task, err: RESOURCES_ERR });
  return out.sort((a, b) => byCreation(a.task, b.task));
}

/** The step that rejects one task: observed REJECTED with the reason, desired SHUTDOWN. */
export function rejectStep(r: Rejection, nowMs: number): Step {
  const status = TaskStatus.fromPartial({
    ...r.task.status,
    state: TaskState.TASK_STATE_REJECTED,
    message: REJECTED_MESSAGE,
    err: r.err,
    timestampUnixMs: nowMs,
    appliedBy: "",
    appliedAtUnixMs: nowMs,
  });
  return step(r.task.serviceId, { change: [{ task: r.task, desiredState: TaskState.TASK_STATE_SHUTDOWN, status }] });
}
