// Whether a node satisfies a task's placement: its constraints and its supported platforms.
import type { Node } from "../proto/gen/objects.js";
import type { Placement } from "../proto/gen/types.js";
import { parseConstraint, nodeMatchesConstraints, type Constraint } from "./constraint.js";
import { nodeSupportsPlatforms } from "./platform.js";

/** The parsed constraints, or null when one does not parse (such a placement matches no node). */
export function parseConstraints(exprs: readonly string[]): Constraint[] | null {
  try {
    return exprs.map(parseConstraint);
  } catch {
    return null;
  }
}

/** Whether the node satisfies every constraint and one of the platforms of `placement` (undefined: any node). */
export function nodeMatchesPlacement(node: Node, placement: Placement | undefined): boolean {
  if (!placement) return true;
  const constraints = parseConstraints(placement.constraints);
  return constraints !== null && nodeMatchesConstraints(node, constraints) && nodeSupportsPlatforms(node, placement.platforms);
}
