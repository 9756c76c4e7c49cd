// What a task asks of a node, read once per task group: reservations, fixed host-mode ports, the
// per-node replica limit, parsed constraints, platforms and spread descriptors.
import type { Node, Task } from "../proto/gen/objects.js";
import { PublishMode, type Platform, type PortConfig, type Resources } from "../proto/gen/types.js";
import { constraintKey, type Constraint } from "./constraint.js";
import { parseConstraints } from "./placement.js";

/** Resource amounts: CPU in nano-CPUs, memory in bytes, generic resources by kind. */
export interface ResourceAmounts {
  nanoCpus: number;
  memoryBytes: number;
  generic: Map<string, number>;
}

/** What one task of a group needs. */
export interface TaskDemand {
  serviceId: string;
  reservations: ResourceAmounts;
  /** Host-mode published ports as portKey() numbers, without duplicates. */
  hostPorts: number[];
  /** Tasks of the service per node at most; 0 for no limit. */
  maxReplicas: number;
  /** null when a constraint does not parse: the task then fits no node. */
  constraints: Constraint[] | null;
  platforms: Platform[];
  /** Canonical spread keys (node.labels.zone…), one tree level each; unknown descriptors are left out. */
  spreadKeys: string[];
}

/** A (protocol, port) pair as one number. */
export function portKey(protocol: number, port: number): number {
  return protocol * 65_536 + port;
}

/** Sums resources: discrete generic resources by value, named ones count one each. */
export function resourceAmounts(r: Resources | undefined): ResourceAmounts {
  const generic = new Map<string, number>();
  for (const g of r?.generic ?? []) {
    const res = g.resource;
    if (res?.$case === "discrete") generic.set(res.discrete.kind, (generic.get(res.discrete.kind) ?? 0) + res.discrete.value);
    else if (res?.$case === "named") generic.set(res.named.kind, (generic.get(res.named.kind) ?? 0) + 1);
  }
  return { nanoCpus: r?.nanoCpus ?? 0, memoryBytes: r?.memoryBytes ?? 0, generic };
}

/** What a node offers (its description's resources). */
export function nodeCapacity(node: Node): ResourceAmounts {
  return resourceAmounts(node.description?.resources);
}

/** The task's fixed host-mode ports, from its allocated endpoint and its endpoint spec. */
export function hostPorts(task: Task): number[] {
  const keys = new Set<number>();
  const add = (ports: PortConfig[] | undefined): void => {
    for (const p of ports ?? []) {
      if (p.publishMode === PublishMode.PUBLISH_MODE_HOST && p.publishedPort !== 0) keys.add(portKey(p.protocol, p.publishedPort));
    }
  };
  add(task.endpoint?.ports);
  add(task.endpoint?.spec?.ports);
  return [...keys];
}

export function taskDemand(task: Task): TaskDemand {
  const placement = task.spec?.placement;
  const spreadKeys: string[] = [];
  for (const pref of placement?.preferences ?? []) {
    const key = constraintKey(pref.spread?.spreadDescriptor ?? "");
    if (key !== null) spreadKeys.push(key);
  }
  return {
    serviceId: task.serviceId,
    reservations: resourceAmounts(task.spec?.resources?.reservations),
    hostPorts: hostPorts(task),
    maxReplicas: placement?.maxReplicas ?? 0,
    constraints: parseConstraints(placement?.constraints ?? []),
    platforms: placement?.platforms ?? [],
    spreadKeys,
  };
}
