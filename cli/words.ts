// The words the CLI uses for proto enums, in flags and output alike (docker's lower-case names):
// `--availability drain`, `--role manager`, `--filter membership=accepted`, "Ready", "Leader".
import { NodeAvailability, NodeMembership, NodeRole, NodeState, Reachability } from "../proto/gen/types.js";

/** NodeAvailability by word. */
export const AVAILABILITIES = {
  active: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
  pause: NodeAvailability.NODE_AVAILABILITY_PAUSE,
  drain: NodeAvailability.NODE_AVAILABILITY_DRAIN,
} as const;

/** NodeRole by word. */
export const ROLES = { worker: NodeRole.NODE_ROLE_WORKER, manager: NodeRole.NODE_ROLE_MANAGER } as const;

/** NodeMembership by word. */
export const MEMBERSHIPS = { accepted: NodeMembership.NODE_MEMBERSHIP_ACCEPTED, pending: NodeMembership.NODE_MEMBERSHIP_PENDING } as const;

/** NodeState by word. */
export const NODE_STATES = {
  unknown: NodeState.NODE_STATE_UNKNOWN,
  down: NodeState.NODE_STATE_DOWN,
  ready: NodeState.NODE_STATE_READY,
  disconnected: NodeState.NODE_STATE_DISCONNECTED,
} as const;

/** Reachability by word. */
export const REACHABILITIES = {
  unknown: Reachability.REACHABILITY_UNKNOWN,
  unreachable: Reachability.REACHABILITY_UNREACHABLE,
  reachable: Reachability.REACHABILITY_REACHABLE,
} as const;

/** The word for an enum value, "unknown" if it has none. */
export function wordOf(words: Readonly<Record<string, number>>, value: number): string {
  return Object.keys(words).find((w) => words[w] === value) ?? "unknown";
}

/** "ready" → "Ready" (docker's PrettyPrint). */
export function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
