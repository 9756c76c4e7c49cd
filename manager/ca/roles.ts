// The two node roles and their names as they appear in certificates (the subject's OU).

/** The node roles, spelled as in the OU of a node certificate. */
export const NodeRole = {
  Manager: "swarm-manager",
  Worker: "swarm-worker",
} as const;
/** A node role as written in the OU of its certificate. */
export type NodeRoleName = (typeof NodeRole)[keyof typeof NodeRole];

const ROLES: readonly string[] = Object.values(NodeRole);

/** True when `value` is one of the {@link NodeRole} names. */
export function isNodeRole(value: unknown): value is NodeRoleName {
  return typeof value === "string" && ROLES.includes(value);
}

/** "swarm-manager or swarm-worker", for error messages. */
export const ROLE_CHOICES = ROLES.join(" or ");
