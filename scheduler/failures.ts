// Recent failures of a service version per node: a node where the same service version failed
// FAILURES_TO_AVOID times within FAILURE_WINDOW_MS ranks after every other node (SwarmKit's rule).

/** One task of a service version that failed (or was rejected) on a node, at `atMs`. */
export interface TaskFailure {
  nodeId: string;
  serviceId: string;
  specVersion: number;
  atMs: number;
}

export const FAILURE_WINDOW_MS = 5 * 60_000;
export const FAILURES_TO_AVOID = 5;

/** Failures of (serviceId, specVersion) per node id within the window that ends at `nowMs`. */
export function recentFailures(failures: readonly TaskFailure[], serviceId: string, specVersion: number, nowMs: number): Map<string, number> {
  const byNode = new Map<string, number>();
  for (const f of failures) {
    if (f.serviceId !== serviceId || f.specVersion !== specVersion || nowMs - f.atMs >= FAILURE_WINDOW_MS) continue;
    byNode.set(f.nodeId, (byNode.get(f.nodeId) ?? 0) + 1);
  }
  return byNode;
}

/** How far a node ranks back: 0 below the threshold, else its failure count (more failures rank later). */
export function failurePenalty(count: number): number {
  return count >= FAILURES_TO_AVOID ? count : 0;
}
