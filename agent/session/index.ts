// The agent's session with the managers (AgentSession: session, heartbeats, assignments, status
// reports), how it picks a manager and backs off, and the host description it registers with.
export {
  AgentSession,
  DEFAULT_RPC_TIMEOUT_MS,
  type AgentSessionEvents,
  type AgentSessionOptions,
} from "./agent-session.js";
export { assignmentsEvent, isGap, type AssignmentsEvent } from "./assignments.js";
export { describeHost, goArch, goOs, hostFacts, type HostFacts } from "./host.js";
export { DEFAULT_BACKOFF, ManagerPicker, backoffDelay, type Backoff } from "./remotes.js";
export {
  DEFAULT_STATUS_BATCH,
  StatusReporter,
  type SendStatuses,
  type StatusBatch,
  type StatusReporterOptions,
} from "./status-reporter.js";
