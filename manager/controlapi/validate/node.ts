// Node specs: an optional valid name, labels, and known role, membership and availability.
import type { NodeSpec } from "../../../proto/gen/specs.js";
import { NodeAvailability, NodeMembership, NodeRole } from "../../../proto/gen/types.js";
import { checkAnnotations, checkEnum, invalid } from "./common.js";

export const ROLE_NAMES: Record<number, string> = {
  [NodeRole.NODE_ROLE_WORKER]: "worker",
  [NodeRole.NODE_ROLE_MANAGER]: "manager",
};
const MEMBERSHIP_NAMES: Record<number, string> = {
  [NodeMembership.NODE_MEMBERSHIP_PENDING]: "pending",
  [NodeMembership.NODE_MEMBERSHIP_ACCEPTED]: "accepted",
};
const AVAILABILITY_NAMES: Record<number, string> = {
  [NodeAvailability.NODE_AVAILABILITY_ACTIVE]: "active",
  [NodeAvailability.NODE_AVAILABILITY_PAUSE]: "pause",
  [NodeAvailability.NODE_AVAILABILITY_DRAIN]: "drain",
};

/** Static checks of a node spec; throws StoreError(INVALID_ARGUMENT) at the first problem. */
export function validateNodeSpec(spec: NodeSpec | undefined): asserts spec is NodeSpec {
  if (!spec) throw invalid("spec", undefined, "a node spec is required");
  checkAnnotations(spec.annotations, false);
  checkEnum("desired_role", spec.desiredRole, ROLE_NAMES);
  checkEnum("membership", spec.membership, MEMBERSHIP_NAMES);
  checkEnum("availability", spec.availability, AVAILABILITY_NAMES);
}

/** What an update may not do to a node's spec: take back its acceptance. */
export function checkNodeUpdate(current: NodeSpec | undefined, next: NodeSpec): void {
  if (
    current?.membership === NodeMembership.NODE_MEMBERSHIP_ACCEPTED &&
    next.membership === NodeMembership.NODE_MEMBERSHIP_PENDING
  ) {
    throw invalid("membership", "pending", "an accepted node cannot go back to pending; remove it instead");
  }
}
