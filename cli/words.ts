// The words the CLI uses for proto enums, in flags and output alike (docker's lower-case names):
// `--availability drain`, `--role manager`, `--filter membership=accepted`, "Ready", "Leader",
// `--restart-condition on-failure`, `desired-state=running`, `mode=host`.
import {
  BindPropagation,
  EndpointMode,
  Isolation,
  MountType,
  NodeAvailability,
  NodeMembership,
  NodeRole,
  NodeState,
  PortProtocol,
  PublishMode,
  Reachability,
  RestartCondition,
  TaskState,
  UpdateFailureAction,
  UpdateOrder,
  UpdateState,
} from "../proto/gen/types.js";

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

/** TaskState by docker's word (`running`, `shutdown`, …), in the states' order. */
export const TASK_STATES = {
  new: TaskState.TASK_STATE_NEW,
  pending: TaskState.TASK_STATE_PENDING,
  assigned: TaskState.TASK_STATE_ASSIGNED,
  accepted: TaskState.TASK_STATE_ACCEPTED,
  preparing: TaskState.TASK_STATE_PREPARING,
  ready: TaskState.TASK_STATE_READY,
  starting: TaskState.TASK_STATE_STARTING,
  running: TaskState.TASK_STATE_RUNNING,
  complete: TaskState.TASK_STATE_COMPLETE,
  shutdown: TaskState.TASK_STATE_SHUTDOWN,
  failed: TaskState.TASK_STATE_FAILED,
  rejected: TaskState.TASK_STATE_REJECTED,
  remove: TaskState.TASK_STATE_REMOVE,
  orphaned: TaskState.TASK_STATE_ORPHANED,
} as const;

/** RestartCondition by docker's word. */
export const RESTART_CONDITIONS = {
  none: RestartCondition.RESTART_CONDITION_NONE,
  "on-failure": RestartCondition.RESTART_CONDITION_ON_FAILURE,
  any: RestartCondition.RESTART_CONDITION_ANY,
} as const;

/** UpdateFailureAction by docker's word. */
export const FAILURE_ACTIONS = {
  pause: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  continue: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE,
  rollback: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK,
} as const;

/** UpdateOrder by docker's word. */
export const UPDATE_ORDERS = { "stop-first": UpdateOrder.UPDATE_ORDER_STOP_FIRST, "start-first": UpdateOrder.UPDATE_ORDER_START_FIRST } as const;

/** UpdateState by docker's word. */
export const UPDATE_STATES = {
  updating: UpdateState.UPDATE_STATE_UPDATING,
  paused: UpdateState.UPDATE_STATE_PAUSED,
  completed: UpdateState.UPDATE_STATE_COMPLETED,
  rollback_started: UpdateState.UPDATE_STATE_ROLLBACK_STARTED,
  rollback_paused: UpdateState.UPDATE_STATE_ROLLBACK_PAUSED,
  rollback_completed: UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED,
} as const;

/** EndpointMode by docker's word. */
export const ENDPOINT_MODES = { vip: EndpointMode.ENDPOINT_MODE_VIP, dnsrr: EndpointMode.ENDPOINT_MODE_DNSRR } as const;

/** PortProtocol by docker's word. */
export const PORT_PROTOCOLS = { tcp: PortProtocol.PORT_PROTOCOL_TCP, udp: PortProtocol.PORT_PROTOCOL_UDP, sctp: PortProtocol.PORT_PROTOCOL_SCTP } as const;

/** PublishMode by docker's word. */
export const PUBLISH_MODES = { ingress: PublishMode.PUBLISH_MODE_INGRESS, host: PublishMode.PUBLISH_MODE_HOST } as const;

/** MountType by docker's word. */
export const MOUNT_TYPES = {
  bind: MountType.MOUNT_TYPE_BIND,
  volume: MountType.MOUNT_TYPE_VOLUME,
  tmpfs: MountType.MOUNT_TYPE_TMPFS,
  npipe: MountType.MOUNT_TYPE_NPIPE,
} as const;

/** BindPropagation by docker's word. */
export const BIND_PROPAGATIONS = {
  rprivate: BindPropagation.BIND_PROPAGATION_RPRIVATE,
  private: BindPropagation.BIND_PROPAGATION_PRIVATE,
  rshared: BindPropagation.BIND_PROPAGATION_RSHARED,
  shared: BindPropagation.BIND_PROPAGATION_SHARED,
  rslave: BindPropagation.BIND_PROPAGATION_RSLAVE,
  slave: BindPropagation.BIND_PROPAGATION_SLAVE,
} as const;

/** Isolation by docker's word. */
export const ISOLATIONS = { default: Isolation.ISOLATION_DEFAULT, process: Isolation.ISOLATION_PROCESS, hyperv: Isolation.ISOLATION_HYPERV } as const;
