// bench:converge, sim mode: 3 manager swarmd processes on loopback (`--executor sim`, drained so
// they run no task) and BENCH_AGENTS simulated agents (bench/support/sim-agents.ts); one service is
// created with 0 replicas and scaled to BENCH_REPLICAS with one UpdateService. converge_s runs from
// that call to the moment the agents' acknowledged RUNNING tasks add up to BENCH_REPLICAS (counted
// in the agent processes, so the measurement puts no load on the managers); leader_rss_mb is the
// leader's VmRSS then, with its VmHWM (peak over its life) beside it.
import { NodeAvailability, NodeState, TaskState } from "../../proto/gen/types.js";
import type { Task } from "../../proto/gen/objects.js";
import { joinAgents, stopAgentProcs, totals, type AgentProc } from "../support/agent-procs.js";
import { startLocalCluster, type LocalCluster } from "../support/local-managers.js";
import { cpuPct, procSample, type ProcSample } from "../support/proc-stats.js";
import type { Printer } from "../support/report.js";
import { note, round2 } from "../support/report.js";
import { LocalControl } from "../support/swarmd-api.js";
import { epochMs, sleep, waitFor } from "../support/wait.js";
import { sumProgress, untilConverged, type Converged } from "./convergence.js";
import { serviceSpec, type BenchService } from "./service.js";

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

/** CLOCK_MONOTONIC in µs at the wall-clock time `epoch` (ms): the clock of V8's --cpu-prof sample timestamps. */
function monotonicUs(epoch: number): number {
  return Math.round(Number(process.hrtime.bigint() / 1000n) - (epochMs() - epoch) * 1000);
}

/** The knobs of a sim run (environment variables). */
export const SIM = {
  agents: env("BENCH_AGENTS", 1_000),
  replicas: env("BENCH_REPLICAS", 10_000),
  agentProcs: Math.max(1, Math.min(env("BENCH_AGENTS", 1_000), env("BENCH_AGENT_PROCS", 4))),
  /** Joins in flight per agent process. */
  joinConcurrency: env("BENCH_JOIN_CONCURRENCY", 4),
  /** Between creating the service (0 replicas) and scaling it. */
  settleMs: env("BENCH_SETTLE_MS", 5_000),
  /** Give up waiting for convergence after this long. */
  timeoutS: env("BENCH_TIMEOUT_S", 300),
  logLevel: process.env["BENCH_LOG_LEVEL"] ?? "info",
  /** Node flags for the managers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (profiles are written when they stop). */
  nodeFlags: (process.env["BENCH_NODE_FLAGS"] ?? "").split(" ").filter(Boolean),
};

export const SIM_COMMON = { bench: "converge", mode: "sim", managers: 3, agents: SIM.agents, replicas: SIM.replicas, agent_procs: SIM.agentProcs, executor: "sim (every delay 0)" };

/** Drains every manager so that tasks go to the agents only. */
async function drainManagers(control: LocalControl, cluster: LocalCluster): Promise<void> {
  const managerIds = new Set(cluster.managers.map((m) => m.nodeId));
  for (const node of await control.nodes()) {
    if (managerIds.has(node.id)) await control.setAvailability(node, NodeAvailability.NODE_AVAILABILITY_DRAIN);
  }
}

/** What the store says once converged (read after the measurement, so it does not load the run). */
function placement(tasks: Task[], managerIds: Set<string>, t0: number): Record<string, number> {
  const running = tasks.filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING && t.desiredState === TaskState.TASK_STATE_RUNNING);
  const perNode = new Map<string, number>();
  for (const t of running) perNode.set(t.nodeId, (perNode.get(t.nodeId) ?? 0) + 1);
  const counts = [...perNode.values()];
  return {
    store_tasks: tasks.length,
    store_running: running.length,
    on_managers: running.filter((t) => managerIds.has(t.nodeId)).length,
    nodes_used: perNode.size,
    per_node_min: counts.length > 0 ? Math.min(...counts) : 0,
    per_node_max: counts.length > 0 ? Math.max(...counts) : 0,
    /** The last RUNNING status's commit by the dispatcher, from the scale call. */
    last_running_committed_s: running.length > 0 ? round2((Math.max(...running.map((t) => t.status?.appliedAtUnixMs ?? 0)) - t0) / 1000) : 0,
  };
}

function stateCounts(tasks: Task[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of tasks) {
    const k = TaskState[t.status?.state ?? 0] ?? String(t.status?.state);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Leader samples every 500 ms while converging: the highest VmRSS seen in the window. */
function watchLeader(pid: number): { stop(): number } {
  let peak = 0;
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, procSample(pid).rssMb);
    } catch {
      // the process is gone; the run will fail on its own
    }
  }, 500);
  return {
    stop() {
      clearInterval(t);
      return peak;
    },
  };
}

async function scaleAndMeasure(control: LocalControl, procs: AgentProc[], cluster: LocalCluster, print: Printer): Promise<void> {
  const { leader } = cluster;
  const svc: BenchService = { name: "converge", image: "sim/bench:latest", command: ["run-forever"], replicas: 0 };
  const created = await control.createService(serviceSpec(svc));
  note(`service ${created.id} created with 0 replicas; settling ${SIM.settleMs} ms`);
  await sleep(SIM.settleMs);
  const current = await control.service(created.id);

  const before = await totals(procs);
  const followers = cluster.managers.filter((m) => m !== leader).map((m) => m.pid);
  const agentPids = procs.map((p) => p.child.pid!);
  const cpuOf = (pids: number[]): number => pids.reduce((n, pid) => n + procSample(pid).cpuS, 0);
  const others0 = { followers: cpuOf(followers), agents: cpuOf(agentPids) };
  const s0: ProcSample = procSample(leader.pid);
  const watch = watchLeader(leader.pid);
  const t0 = epochMs();
  const converged = untilConverged(procs, SIM.replicas);
  await control.updateService(current, serviceSpec({ ...svc, replicas: SIM.replicas }));
  const answeredAt = epochMs();
  note(`scaled to ${SIM.replicas} (UpdateService answered in ${Math.round(answeredAt - t0)} ms); waiting for RUNNING`);
  const progressLog = setInterval(() => {
    const p = sumProgress(procs.map((x) => x.progress));
    const s = procSample(leader.pid);
    note(`received ${p.received}, running acked ${p.runningAcked}; leader rss ${Math.round(s.rssMb)} MB, cpu ${round2(s.cpuS - s0.cpuS)} s`);
  }, 2_000);
  let result: Converged | null;
  try {
    result = await Promise.race([converged, sleep(SIM.timeoutS * 1000).then(() => null)]);
  } finally {
    clearInterval(progressLog);
  }
  const s1 = procSample(leader.pid);
  const others = { followers_cpu_s: round2(cpuOf(followers) - others0.followers), agent_procs_cpu_s: round2(cpuOf(agentPids) - others0.agents) };
  const windowPeak = Math.max(watch.stop(), s1.rssMb);
  const managerIds = new Set(cluster.managers.map((m) => m.nodeId));
  const tasks = await control.tasks({ serviceIds: [created.id] });
  const agentTotals = await totals(procs);
  const leaderCond = { leader_cpu_s: round2(s1.cpuS - s0.cpuS), leader_cpu_pct: Math.round(cpuPct(s0, s1)), ...others, agent_procs_rss_mb: Math.round(agentTotals.agentRssMb) };

  if (result === null) {
    const p = sumProgress(procs.map((x) => x.progress));
    print("converge_s", null, "s", { converged: false, timeout_s: SIM.timeoutS, received: p.received, running_acked: p.runningAcked, store_states: stateCounts(tasks), ...placement(tasks, managerIds, t0), ...leaderCond });
    print("leader_rss_mb", s1.rssMb, "MB", { at: "timeout", peak_mb: round2(s1.hwmMb), window_peak_mb: round2(windowPeak), target: "<= 800" });
    throw new Error(`not converged within ${SIM.timeoutS} s: ${p.runningAcked}/${SIM.replicas} RUNNING acknowledged, ${p.received} received`);
  }
  print("converge_s", (result.convergedAt - t0) / 1000, "s", {
    target: "<= 15",
    measured: "UpdateService (0 -> replicas) sent to the last distinct RUNNING status acknowledged by a manager (OK UpdateTaskStatus), counted in the agent processes",
    update_answer_s: round2((answeredAt - t0) / 1000),
    first_task_received_s: round2((result.firstReceivedAt - t0) / 1000),
    all_tasks_received_s: result.received >= SIM.replicas ? round2((result.lastReceivedAt - t0) / 1000) : null,
    status_errors: agentTotals.statusErrors - before.statusErrors,
    worker_errors: agentTotals.workerErrors - before.workerErrors,
    disconnects: agentTotals.disconnects - before.disconnects,
    ...placement(tasks, managerIds, t0),
    ...leaderCond,
    monotonic_window_us: [monotonicUs(t0), monotonicUs(result.convergedAt)],
  });
  print("leader_rss_mb", s1.rssMb, "MB", { at: "convergence (VmRSS)", peak_mb: round2(s1.hwmMb), window_peak_mb: round2(windowPeak), target: "<= 800", measured: "leader swarmd /proc status; peak_mb = VmHWM over its life, window_peak_mb = highest VmRSS sampled every 500 ms while converging" });
}

export async function runSim(dir: string, print: Printer): Promise<void> {
  const t0 = performance.now();
  const cluster = await startLocalCluster(dir, 3, { swarmdArgs: ["--executor", "sim"], nodeFlags: SIM.nodeFlags, logLevel: SIM.logLevel });
  const { leader } = cluster;
  note(`managers up in ${Math.round(performance.now() - t0)} ms; leader m${leader.index} (pid ${leader.pid}, ${leader.addr})`);
  const control = new LocalControl(leader.socket);
  try {
    await drainManagers(control, cluster);
    const joined = await joinAgents(
      { agents: SIM.agents, procs: SIM.agentProcs, managers: cluster.managers.map((m) => m.addr), workerToken: cluster.workerToken, rootCertPem: cluster.rootCertPem, joinConcurrency: SIM.joinConcurrency },
      leader.addr,
      () => `rss ${Math.round(procSample(leader.pid).rssMb)} MB`,
      note,
    );
    print("agents_ready_s", joined.sessionsUpMs / 1000, "s", { joined: joined.nodeIds.length, join_errors: joined.joinErrors, measured: "first CSR to every agent's session open on the leader (not part of converge_s)" });
    await waitFor(`${joined.nodeIds.length} workers READY`, 60_000, async () => {
      const ready = (await control.nodes()).filter((n) => n.status?.state === NodeState.NODE_STATE_READY && !cluster.managers.some((m) => m.nodeId === n.id));
      return ready.length === joined.nodeIds.length;
    }, 1_000);
    await scaleAndMeasure(control, joined.procs, cluster, print);
    await stopAgentProcs(joined.procs);
  } finally {
    control.close();
  }
}
