// One round: the CLI sends a fresh env change to the service while the leader is traced; once the
// update is over (all slots on the new spec, COMPLETED, old tasks ended, CLI exited) the engines are
// asked when each container was created, started and finished, and the round's times are broken down.
import type { LocalControl } from "../support/swarmd-api.js";
import { breakdown, type RoundBreakdown } from "./breakdown.js";
import { runCliUpdate, type CliRun } from "./cli-update.js";
import { containerTimesByTask } from "./engine-times.js";
import { traceUpdate } from "./watch-update.js";

export interface RoundOptions {
  round: number;
  /** The leader's Control (traced) and local socket (the CLI's). */
  control: LocalControl;
  socket: string;
  serviceId: string;
  serviceName: string;
  replicas: number;
  parallelism: number;
  engineSockets: readonly string[];
  pollMs: number;
  timeoutMs: number;
}

export interface RoundResult {
  cli: CliRun;
  breakdown: RoundBreakdown;
  polls: number;
}

export async function runRound(o: RoundOptions): Promise<RoundResult> {
  const before = await o.control.service(o.serviceId);
  let cliDone = false;
  const cliRun = runCliUpdate({ socket: o.socket, service: o.serviceName, round: o.round, parallelism: o.parallelism, timeoutMs: o.timeoutMs }).finally(() => (cliDone = true));
  const trace = await traceUpdate(o.control, {
    serviceId: o.serviceId,
    replicas: o.replicas,
    fromSpecVersion: before.specVersion?.index ?? 0,
    pollMs: o.pollMs,
    timeoutMs: o.timeoutMs,
    settled: () => cliDone,
  }).catch(async (e: Error) => {
    const cli = await cliRun;
    throw new Error(`${e.message}\nswarm ${cli.argv.join(" ")} (exit ${cli.code}):\n${cli.stdout}${cli.stderr}`);
  });
  const cli = await cliRun;
  if (cli.code !== 0) throw new Error(`swarm ${cli.argv.join(" ")} exited ${cli.code}:\n${cli.stdout}${cli.stderr}`);
  const containers = await containerTimesByTask(o.engineSockets, o.serviceName);
  return { cli, polls: trace.polls, breakdown: breakdown({ t0Ms: cli.spawnedAtMs, sentAtMs: cli.sentAtMs, cliExitedAtMs: cli.exitedAtMs, trace, containers, parallelism: o.parallelism }) };
}
