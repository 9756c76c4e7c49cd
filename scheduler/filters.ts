// The filters a node must pass to take a task, in SwarmKit's order, and why a node was refused:
//   ready → resources → constraints → platform → host-mode ports → max replicas per node.
// Ready, constraints and platform depend only on the node and the task's spec (checked once per task
// group); resources, ports and max replicas depend on what the node already runs (checked per task).
import { NodeAvailability, NodeState as NodeStatusState } from "../proto/gen/types.js";
import type { Node } from "../proto/gen/objects.js";
import { nodeMatchesConstraints } from "./constraint.js";
import type { ResourceAmounts, TaskDemand } from "./demand.js";
import type { NodeState } from "./node-state.js";
import { nodeSupportsPlatforms } from "./platform.js";

/** Why a node cannot take a task: a filter, or for resources the resource that is short ("memory", "CPU", a generic kind). */
export type Refusal =
  | { filter: "ready" | "constraints" | "platform" | "hostPort" | "maxReplicas" }
  | { filter: "resources"; resource: string };

/** A refusal decided by the node and the task's spec alone. */
export type StaticRefusal = { filter: "ready" | "constraints" | "platform" };

const READY: StaticRefusal = { filter: "ready" };
const CONSTRAINTS: StaticRefusal = { filter: "constraints" };
const PLATFORM: StaticRefusal = { filter: "platform" };
const HOST_PORT: Refusal = { filter: "hostPort" };
const MAX_REPLICAS: Refusal = { filter: "maxReplicas" };

/** Whether the node is READY and ACTIVE. */
export function nodeAvailable(node: Node): boolean {
  return (
    node.status?.state === NodeStatusState.NODE_STATE_READY &&
    (node.spec?.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE) === NodeAvailability.NODE_AVAILABILITY_ACTIVE
  );
}

/** The first of ready, constraints and platform that refuses the node, or null. */
export function staticRefusal(node: Node, demand: TaskDemand): StaticRefusal | null {
  if (!nodeAvailable(node)) return READY;
  if (demand.constraints === null || !nodeMatchesConstraints(node, demand.constraints)) return CONSTRAINTS;
  if (!nodeSupportsPlatforms(node, demand.platforms)) return PLATFORM;
  return null;
}

/** The first reserved resource the node lacks (memory, then CPU, then generic kinds), or null. */
export function resourceShortfall(free: ResourceAmounts, need: ResourceAmounts): string | null {
  if (need.memoryBytes > 0 && need.memoryBytes > free.memoryBytes) return "memory";
  if (need.nanoCpus > 0 && need.nanoCpus > free.nanoCpus) return "CPU";
  for (const [kind, n] of need.generic) if (n > 0 && n > (free.generic.get(kind) ?? 0)) return kind;
  return null;
}

/** Whether the node has room for one more task now: resources, host ports and the per-node limit. */
export function hasRoom(state: NodeState, demand: TaskDemand): boolean {
  if (resourceShortfall(state.free, demand.reservations) !== null) return false;
  for (const p of demand.hostPorts) if (state.portsInUse.has(p)) return false;
  return demand.maxReplicas <= 0 || state.tasksOf(demand.serviceId) < demand.maxReplicas;
}

/** The first filter, in pipeline order, that refuses the node (its static refusal given), or null. */
export function firstRefusal(state: NodeState, demand: TaskDemand, refusedStatically: StaticRefusal | null): Refusal | null {
  if (refusedStatically === READY) return READY;
  const short = resourceShortfall(state.free, demand.reservations);
  if (short !== null) return { filter: "resources", resource: short };
  if (refusedStatically !== null) return refusedStatically;
  for (const p of demand.hostPorts) if (state.portsInUse.has(p)) return HOST_PORT;
  if (demand.maxReplicas > 0 && state.tasksOf(demand.serviceId) >= demand.maxReplicas) return MAX_REPLICAS;
  return null;
}
