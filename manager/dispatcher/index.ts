// The dispatcher: agent sessions, heartbeats, assignments and task status intake on the leader
// (Dispatcher, plain TypeScript over the store) and its gRPC adapter.
export {
  DEFAULT_HEARTBEAT_PERIOD_MS,
  Dispatcher,
  StatusMessage,
  peerIp,
  type DispatcherOptions,
  type SendAssignmentsMessage,
  type SendSessionMessage,
} from "./dispatcher.js";
export { ASSIGNMENT_BATCH_LIMIT, ASSIGNMENT_BATCH_MS, AssignmentSet, dependenciesOf, type DependencyLookup } from "./assignments.js";
export { DispatcherError, DispatcherErrorCode } from "./errors.js";
export { dispatcherServiceImplementation, type DispatcherApi, type DispatcherCall, type DispatcherGrpcOptions } from "./grpc-adapter.js";
export {
  Awaited,
  HeartbeatTracker,
  PERIOD_JITTER,
  SESSION_GRACE_PERIODS,
  UNKNOWN_GRACE_PERIODS,
  jitteredPeriod,
  type Lapse,
} from "./heartbeats.js";
export { NodeStatusWriter, applyStatus, notMember, type StatusChange, type StatusWriterOptions } from "./status-writer.js";
export { TaskStatusWriter, applyTaskStatus, type TaskStatusReport, type TaskStatusWriterOptions } from "./task-status-writer.js";
