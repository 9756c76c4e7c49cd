// The agent's session with the managers (AgentSession), how it picks a manager and backs off, and
// the host description it registers with.
export {
  AgentSession,
  DEFAULT_RPC_TIMEOUT_MS,
  type AgentSessionEvents,
  type AgentSessionOptions,
} from "./agent-session.js";
export { describeHost, goArch, goOs, hostFacts, type HostFacts } from "./host.js";
export { DEFAULT_BACKOFF, ManagerPicker, backoffDelay, type Backoff } from "./remotes.js";
