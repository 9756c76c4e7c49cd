// When the simulated agents have converged: the agent processes push how many distinct tasks their
// agents received and how many distinct RUNNING statuses a manager acknowledged, with the time of
// the latest; the sum reaching the target is convergence, dated by the latest acknowledgement (not
// by when the bench heard of it, which trails by up to the push interval).
import type { AgentProc } from "../support/agent-procs.js";
import type { Progress } from "../support/sim-agents-protocol.js";

export interface Converged {
  /** ms since the epoch of the latest acknowledgement (at convergence: the one that reached the target). */
  convergedAt: number;
  /** Distinct tasks received by the agents, at convergence. */
  received: number;
  /** The first task received by any agent (ms since the epoch; 0 if none). */
  firstReceivedAt: number;
  /** The last task received by any agent so far (ms since the epoch). */
  lastReceivedAt: number;
  runningAcked: number;
}

/** Sums the processes' latest progress. */
export function sumProgress(all: Progress[]): Converged {
  const firsts = all.map((p) => p.firstReceivedAt).filter((t) => t > 0);
  return {
    convergedAt: Math.max(0, ...all.map((p) => p.lastRunningAckedAt)),
    received: all.reduce((n, p) => n + p.received, 0),
    firstReceivedAt: firsts.length > 0 ? Math.min(...firsts) : 0,
    lastReceivedAt: Math.max(0, ...all.map((p) => p.lastReceivedAt)),
    runningAcked: all.reduce((n, p) => n + p.runningAcked, 0),
  };
}

/** Resolves once the agents' acknowledged RUNNING tasks add up to `target`. */
export function untilConverged(procs: AgentProc[], target: number): Promise<Converged> {
  return new Promise((resolve) => {
    const check = (): void => {
      const sum = sumProgress(procs.map((p) => p.progress));
      if (sum.runningAcked < target) return;
      for (const p of procs) p.onProgress = null;
      resolve(sum);
    };
    for (const p of procs) p.onProgress = check;
    check();
  });
}
