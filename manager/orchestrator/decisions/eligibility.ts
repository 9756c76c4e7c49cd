// Whether a node runs a global service's (or global job's) task: "run" it (and get new ones),
// "keep" what it has (paused: no new tasks), or "stop" them (removed, DOWN, drained, or the
// placement no longer holds). Pure.
import type { Node } from "../../../proto/gen/objects.js";
import { NodeAvailability, type Placement } from "../../../proto/gen/types.js";
import { nodeMatchesPlacement } from "../../../scheduler/index.js";
import { nodeFailure } from "./task-state.js";

export type NodeEligibility = "run" | "keep" | "stop";

export function nodeEligibility(node: Node | undefined, placement: Placement | undefined): NodeEligibility {
  if (!node || nodeFailure(node) || !nodeMatchesPlacement(node, placement)) return "stop";
  return node.spec?.availability === NodeAvailability.NODE_AVAILABILITY_PAUSE ? "keep" : "run";
}

/** The ids of the nodes a global decision looks at: every node, and every node its tasks name, sorted. */
export function nodeIdsToVisit(nodes: readonly Node[], taskNodeIds: Iterable<string>): string[] {
  return [...new Set([...nodes.map((n) => n.id), ...taskNodeIds])].sort();
}
