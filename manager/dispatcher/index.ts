// The dispatcher: agent sessions and heartbeats on the leader (Dispatcher, plain TypeScript over the
// store) and its gRPC adapter. Assignments and task status intake come later.
export {
  DEFAULT_HEARTBEAT_PERIOD_MS,
  Dispatcher,
  StatusMessage,
  peerIp,
  type DispatcherOptions,
  type SendSessionMessage,
} from "./dispatcher.js";
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
