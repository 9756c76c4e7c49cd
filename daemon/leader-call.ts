// Calling the leader from outside it: try the known managers in turn, follow a non-leader's
// redirect (swarm-leader-addr) to the leader, and give up with the last reason once the time runs
// out. Used to join, renew certificates and change Raft membership.
import * as grpc from "@grpc/grpc-js";
import { LEADER_ADDR_METADATA } from "../proto/metadata.js";
import { DaemonError } from "./errors.js";

export interface LeaderCallOptions {
  /** Total time to keep trying. Default 20 s. */
  timeoutMs?: number;
  /** Deadline of each attempt. Default 5 s. */
  attemptMs?: number;
}

/** Promise form of a grpc-js unary call with a deadline: `invoke(metadata, options, callback)` makes the call. */
export function unary<Res>(
  invoke: (metadata: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    invoke(new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function isRetryable(e: unknown): boolean {
  const code = (e as grpc.ServiceError).code;
  return code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED;
}

/**
 * Runs `attempt(addr, deadlineMs)` against `addrs` until one answers. A redirect moves to the
 * leader; other failures that may pass (UNAVAILABLE, deadline) move on to the next address after a
 * short pause; any other error is final.
 */
export async function callLeader<T>(addrs: string[], attempt: (addr: string, attemptMs: number) => Promise<T>, opts: LeaderCallOptions = {}): Promise<T> {
  const until = Date.now() + (opts.timeoutMs ?? 20_000);
  const attemptMs = opts.attemptMs ?? 5_000;
  const queue = [...new Set(addrs)];
  let next = 0;
  let last: unknown = new DaemonError(grpc.status.UNAVAILABLE, "no manager address is known");
  let pauseMs = 50;
  while (Date.now() < until && queue.length > 0) {
    const addr = queue[next % queue.length]!;
    try {
      return await attempt(addr, Math.min(attemptMs, Math.max(100, until - Date.now())));
    } catch (e) {
      if (!isRetryable(e)) throw e;
      last = e;
      const leader = (e as grpc.ServiceError).metadata?.get(LEADER_ADDR_METADATA)[0];
      if (typeof leader === "string" && leader && leader !== addr) {
        if (!queue.includes(leader)) queue.push(leader);
        next = queue.indexOf(leader);
        continue;
      }
      next++;
      await new Promise((r) => setTimeout(r, pauseMs));
      pauseMs = Math.min(pauseMs * 2, 1000);
    }
  }
  const why = (last as grpc.ServiceError).details ?? (last as Error).message;
  throw new DaemonError(grpc.status.UNAVAILABLE, `cannot reach the leader through ${addrs.join(", ")}: ${why}`);
}
