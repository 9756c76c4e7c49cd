// The "no suitable node (…)" message: how many nodes each filter refused, most frequent first, ties
// in filter order (resources: memory, CPU, then generic kinds as the task reserves them).
import type { TaskDemand } from "./demand.js";
import type { Refusal } from "./filters.js";

const FILTER_ORDER = ["ready", "resources", "constraints", "platform", "hostPort", "maxReplicas"] as const;

const nodes = (n: number): string => (n === 1 ? "1 node" : `${n} nodes`);

function text(r: Refusal, count: number): string {
  switch (r.filter) {
    case "ready":
      return `${nodes(count)} not available for new tasks`;
    case "resources":
      return `insufficient ${r.resource} on ${nodes(count)}`;
    case "constraints":
      return `scheduling constraints not satisfied on ${nodes(count)}`;
    case "platform":
      return `unsupported platform on ${nodes(count)}`;
    case "hostPort":
      return `host-mode port already in use on ${nodes(count)}`;
    case "maxReplicas":
      return `max replicas per node limit exceed on ${nodes(count)}`;
  }
}

/** Where a refusal sorts among equally frequent ones. */
function rank(r: Refusal, demand: TaskDemand): number {
  const filter = FILTER_ORDER.indexOf(r.filter) * 1_000_000;
  if (r.filter !== "resources") return filter;
  if (r.resource === "memory") return filter;
  if (r.resource === "CPU") return filter + 1;
  return filter + 2 + [...demand.reservations.generic.keys()].indexOf(r.resource);
}

/** "no suitable node (A; B)" from each refused node's first refusal; "no suitable node" when there are none. */
export function noSuitableNode(refusals: readonly Refusal[], demand: TaskDemand): string {
  const counts = new Map<string, { refusal: Refusal; count: number; rank: number }>();
  for (const r of refusals) {
    const key = r.filter === "resources" ? `resources:${r.resource}` : r.filter;
    const entry = counts.get(key);
    if (entry) entry.count++;
    else counts.set(key, { refusal: r, count: 1, rank: rank(r, demand) });
  }
  if (counts.size === 0) return "no suitable node";
  const parts = [...counts.values()].sort((a, b) => b.count - a.count || a.rank - b.rank).map((e) => text(e.refusal, e.count));
  return `no suitable node (${parts.join("; ")})`;
}
