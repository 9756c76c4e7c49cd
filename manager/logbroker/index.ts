// The log broker: `service logs` on the leader (LogBroker, a leader component over the store) and the
// gRPC adapters of the Logs (clients) and LogBroker (agents) services.
export { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_LISTENER_WAIT_MS, LogBroker, type LogBrokerOptions, type SendSubscription } from "./broker.js";
export { LogBrokerError, LogBrokerErrorCode } from "./errors.js";
export {
  logBrokerServiceImplementation,
  logsServiceImplementation,
  type LogBrokerApi,
  type LogBrokerCall,
  type LogBrokerGrpcOptions,
  type LogsGrpcOptions,
} from "./grpc-adapter.js";
export { checkOptions, isScheduled, nodesOfSelection, resolveSelector, selects } from "./selector.js";
export type { SendLogs, Timer, Timers } from "./subscription.js";
