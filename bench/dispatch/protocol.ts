// IPC messages between `npm run bench:dispatch` (main.ts) and its agent processes (agents.ts).

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

export type FromAgents =
  | { type: "joined"; nodeIds: string[]; joinMs: number; errors: number; lastError: string }
  | { type: "stats"; id: number; stats: Stats }
  | { type: "fatal"; error: string }
  | { type: "stopped" };
