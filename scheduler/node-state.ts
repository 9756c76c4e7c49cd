// What is left on each node: free resources, host ports in use, and how many tasks (per service and
// overall) it runs. A task holds its share from ASSIGNED while its observed state is at most RUNNING,
// whatever its desired state.
import type { Node, Task } from "../proto/gen/objects.js";
import { TaskState } from "../proto/gen/types.js";
import { hostPorts, nodeCapacity, resourceAmounts, type ResourceAmounts } from "./demand.js";

/** Whether a task holds resources, host ports and a replica slot on its node. */
export function holdsNode(task: Task): boolean {
  const state = task.status?.state ?? TaskState.TASK_STATE_NEW;
  return task.nodeId !== "" && state >= TaskState.TASK_STATE_ASSIGNED && state <= TaskState.TASK_STATE_RUNNING;
}

/** One node and what its tasks use of it. */
export class NodeState {
  readonly id: string;
  /** Capacity minus reservations held; negative when the node is overcommitted. */
  readonly free: ResourceAmounts;
  readonly portsInUse = new Set<number>();
  private readonly perService = new Map<string, number>();
  total = 0;

  constructor(readonly node: Node) {
    this.id = node.id;
    this.free = nodeCapacity(node);
  }

  /** Tasks of `serviceId` on this node. */
  tasksOf(serviceId: string): number {
    return this.perService.get(serviceId) ?? 0;
  }

  /** Accounts for one more task of `serviceId` with these reservations and host ports. */
  hold(serviceId: string, reservations: ResourceAmounts, ports: readonly number[]): void {
    this.free.nanoCpus -= reservations.nanoCpus;
    this.free.memoryBytes -= reservations.memoryBytes;
    for (const [kind, n] of reservations.generic) this.free.generic.set(kind, (this.free.generic.get(kind) ?? 0) - n);
    for (const p of ports) this.portsInUse.add(p);
    this.perService.set(serviceId, this.tasksOf(serviceId) + 1);
    this.total++;
  }
}

/** Every node's state, by id, with the holds of `tasks` (tasks in `skip` are left out). */
export function buildNodeStates(nodes: readonly Node[], tasks: readonly Task[], skip: ReadonlySet<string>): Map<string, NodeState> {
  const states = new Map<string, NodeState>();
  for (const n of nodes) states.set(n.id, new NodeState(n));
  for (const t of tasks) {
    if (!holdsNode(t) || skip.has(t.id)) continue;
    const state = states.get(t.nodeId);
    if (state) state.hold(t.serviceId, resourceAmounts(t.spec?.resources?.reservations), hostPorts(t));
  }
  return states;
}
