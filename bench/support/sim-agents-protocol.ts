// IPC messages between a bench (agent-procs.ts) and its simulated-agent processes (sim-agents.ts).

export interface StartCommand {
  type: "start";
  /** Managers' cluster addresses (host:port). */
  managers: string[];
  /** The worker join token. */
  token: string;
  rootCertPem: string;
  /** Agents in this process, numbered from `base` (hostnames sim-<n>). */
  count: number;
  base: number;
  /** Joins in flight in this process. */
  joinConcurrency: number;
}

export type ToAgents = StartCommand | { type: "stats"; id: number } | { type: "stop" };

/** Counters since the process started; `received` only since the last stats answer. */
export interface Stats {
  heartbeats: number;
  heartbeatErrors: number;
  statusCalls: number;
  statusUpdates: number;
  statusErrors: number;
  disconnects: number;
  assignmentMessages: number;
  workerErrors: number;
  agents: number;
  sessionsUp: number;
  /** Sessions per manager address. */
  sessionManagers: Record<string, number>;
  queuedStatuses: number;
  /** [taskId, first receive time in ms since the epoch] */
  received: [string, number][];
  memRssMb: number;
}

/**
 * Pushed (at most every 100 ms) when it changed: distinct tasks this process's agents received, and
 * distinct tasks whose RUNNING status a manager acknowledged (an OK UpdateTaskStatus carrying it),
 * with the time (ms since the epoch) of the first and of the latest of each.
 */
export interface Progress {
  received: number;
  firstReceivedAt: number;
  lastReceivedAt: number;
  runningAcked: number;
  lastRunningAckedAt: number;
}

export type FromAgents =
  | { type: "joined"; nodeIds: string[]; joinMs: number; errors: number; lastError: string }
  | { type: "stats"; id: number; stats: Stats }
  | { type: "progress"; progress: Progress }
  | { type: "fatal"; error: string }
  | { type: "stopped" };
