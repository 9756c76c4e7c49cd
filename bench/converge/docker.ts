// bench:converge --engine docker: BENCH_HOSTS (5) test hosts, each with its own Docker engine and a
// swarmd (BENCH_MANAGERS managers, 3 by default, the rest workers; every node active, so all hosts run
// tasks). Each run times two things on the same engines, in alternating order:
//   converge_s  CreateService (BENCH_REPLICAS = 100 replicas of the test image running a sleep that
//               exits at SIGTERM) to the arrival of the change that makes them all RUNNING, on a
//               task watch opened beforehand on the first manager's local socket (a poll would add
//               up to its interval to the figure, and its own load);
//   direct_s    the same number of containers created and started straight through the engines'
//               APIs, split evenly, 4 in flight per engine: the floor.
// Beside each: machine_cpu_s (busy CPU seconds of the whole machine in that window, from /proc/stat)
// and swarmd_cpu_s (the swarmd processes' share, and by host), to tell engine work from ours; and
// raft_entries, the entries committed until converged.
// BENCH_NODE_FLAGS passes node flags to every swarmd (e.g. "--cpu-prof --cpu-prof-dir=DIR").
// above_floor_pct = converge_s / direct_s − 1. Between phases the service is removed and its
// containers waited for, the floor's containers force-removed. One untimed container per engine
// warms the engines first. Everything started is stopped and removed, even on failure.
import type { Service, Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { TEST_IMAGE } from "../../test/hosts/docker-engine.js";
import type { Printer } from "../support/report.js";
import { machineBusyS, procSample } from "../support/proc-stats.js";
import { median, note, round2 } from "../support/report.js";
import { formCluster } from "../support/form-cluster.js";
import { LocalControl, daemonInfo } from "../support/swarmd-api.js";
import { epochMs, sleep } from "../support/wait.js";
import { createAndStartDirect, removeDirect } from "./direct.js";
import { containerTimes, forceRemove, untilNoContainers } from "./engine-api.js";
import { EngineHosts, type EngineHost } from "./engine-hosts.js";
import { QUICK_STOP_COMMAND, serviceSpec, type BenchService } from "./service.js";

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

/** The knobs of a docker run (environment variables). */
export const DOCKER = {
  hosts: env("BENCH_HOSTS", 5),
  managers: env("BENCH_MANAGERS", 3),
  replicas: env("BENCH_REPLICAS", 100),
  runs: env("BENCH_RUNS", 1),
  inFlightPerEngine: 4,
  /** How often the bench looks at what the watch has seen (the time is the watch event's, not the look's). */
  checkMs: 20,
  timeoutS: env("BENCH_TIMEOUT_S", 300),
  logLevel: process.env["BENCH_LOG_LEVEL"] ?? "info",
};

const COMMAND = QUICK_STOP_COMMAND;

export const DOCKER_COMMON = { bench: "converge", mode: "docker", hosts: DOCKER.hosts, managers: DOCKER.managers, replicas: DOCKER.replicas, image: TEST_IMAGE, command: COMMAND.join(" ") };

/** Docker Swarm on the machine: 65.6 s against a direct floor of 47.8 s. */
const DOCKER_SWARM = { converge_s: 65.6, direct_s: 47.8, above_floor_pct: 37 };

const isRunning = (t: Task): boolean => t.status?.state === TaskState.TASK_STATE_RUNNING && t.desiredState === TaskState.TASK_STATE_RUNNING;

interface CpuUsed {
  machineS: number;
  swarmdS: number;
  /** Each host's swarmd, by host name. */
  byHost: Record<string, number>;
}

/** CPU seconds spent from now until the returned function is called: the whole machine's, and swarmd's. */
function cpuWindow(hosts: EngineHost[]): () => CpuUsed {
  const swarmdS = (): number[] => hosts.map((h) => (h.proc?.pid ? procSample(h.proc.pid).cpuS : 0));
  const machine0 = machineBusyS();
  const swarmd0 = swarmdS();
  return () => {
    const used = swarmdS().map((s, i) => s - swarmd0[i]!);
    return {
      machineS: round2(machineBusyS() - machine0),
      swarmdS: round2(used.reduce((a, b) => a + b, 0)),
      byHost: Object.fromEntries(hosts.map((h, i) => [h.host.name, round2(used[i]!)])),
    };
  };
}

interface SwarmResult {
  convergeS: number;
  /** CPU seconds until converged: the whole machine's, and the swarmd processes'. */
  cpu: CpuUsed;
  /** Raft entries committed until converged. */
  raftEntries: number;
  /** The last RUNNING status's commit (appliedAt) after the create call. */
  lastRunningAppliedS: number;
  /** The engines' own times, from the create call: the first container created, the last one started. */
  firstCreatedS: number;
  lastStartedS: number;
  perHost: Record<string, number>;
  removeS: number;
}

function stateCounts(tasks: Task[]): string {
  const out: Record<string, number> = {};
  for (const t of tasks) {
    const k = TaskState[t.status?.state ?? 0] ?? String(t.status?.state);
    out[k] = (out[k] ?? 0) + 1;
  }
  return JSON.stringify(out);
}

async function swarmRun(control: LocalControl, hosts: EngineHost[], run: number): Promise<SwarmResult> {
  const sockets = hosts.map((h) => h.engine.socketPath);
  const svc: BenchService = { name: `converge-${run}`, image: TEST_IMAGE, command: COMMAND, replicas: DOCKER.replicas };
  const commit0 = (await daemonInfo(hosts[0]!.socket)).raft?.commitIndex ?? 0;
  // Every task as its latest committed change left it; converged when the service's RUNNING ones
  // reach the replica count, dated when that change arrives.
  const latest = new Map<string, Task>();
  let serviceId = "";
  let convergedAt = 0;
  let watchError: Error | null = null;
  const runningOf = (id: string): Task[] => [...latest.values()].filter((t) => t.serviceId === id && isRunning(t));
  const stopWatch = await control.watchTasks(
    (t) => {
      latest.set(t.id, t);
      if (convergedAt === 0 && serviceId !== "" && isRunning(t) && runningOf(serviceId).length >= DOCKER.replicas) convergedAt = performance.now();
    },
    (e) => (watchError = e),
  );
  const cpu = cpuWindow(hosts);
  const t0 = performance.now();
  const t0Epoch = epochMs();
  let created: Service;
  try {
    created = await control.createService(serviceSpec(svc));
    serviceId = created.id;
    if (runningOf(serviceId).length >= DOCKER.replicas) convergedAt = performance.now();
    while (convergedAt === 0) {
      if (watchError) throw new Error(`${svc.name}: the task watch failed: ${(watchError as Error).message}`);
      if (performance.now() - t0 > DOCKER.timeoutS * 1000) {
        throw new Error(`${svc.name}: not converged within ${DOCKER.timeoutS} s; tasks by state ${stateCounts(await control.tasks({ serviceIds: [serviceId] }))}`);
      }
      await sleep(DOCKER.checkMs);
    }
  } finally {
    stopWatch();
  }
  const tasks = await control.tasks({ serviceIds: [created.id] });
  const convergeS = (convergedAt - t0) / 1000;
  const cpuUsed = cpu();
  const raftEntries = ((await daemonInfo(hosts[0]!.socket)).raft?.commitIndex ?? 0) - commit0;
  const running = tasks.filter(isRunning);
  const nodes = new Map((await control.nodes()).map((n) => [n.id, n.description?.hostname ?? n.id]));
  const perHost: Record<string, number> = {};
  for (const t of running) {
    const h = nodes.get(t.nodeId) ?? t.nodeId;
    perHost[h] = (perHost[h] ?? 0) + 1;
  }
  const lastApplied = Math.max(...running.map((t) => t.status?.appliedAtUnixMs ?? 0));
  const label = `com.docker.swarm.service.name=${svc.name}`;
  const engineTimes = await containerTimes(sockets, label, DOCKER.inFlightPerEngine);

  const r0 = performance.now();
  await control.removeService(created.id);
  if (!(await untilNoContainers(sockets, label, 120_000))) {
    const n = await forceRemove(sockets, label, DOCKER.inFlightPerEngine);
    note(`${svc.name}: ${n} containers still there 120 s after the service was removed; force-removed them`);
  }
  return {
    convergeS,
    cpu: cpuUsed,
    raftEntries,
    lastRunningAppliedS: (lastApplied - t0Epoch) / 1000,
    firstCreatedS: (engineTimes.firstCreatedAt - t0Epoch) / 1000,
    lastStartedS: (engineTimes.lastStartedAt - t0Epoch) / 1000,
    perHost,
    removeS: (performance.now() - r0) / 1000,
  };
}

async function directRun(hosts: EngineHost[], run: number): Promise<{ directS: number; cpu: CpuUsed }> {
  const sockets = hosts.map((h) => h.engine.socketPath);
  const cpu = cpuWindow(hosts);
  const directS = await createAndStartDirect({ sockets, containers: DOCKER.replicas, image: TEST_IMAGE, command: COMMAND, inFlightPerEngine: DOCKER.inFlightPerEngine, run });
  const cpuUsed = cpu();
  await removeDirect(sockets, DOCKER.inFlightPerEngine);
  return { directS, cpu: cpuUsed };
}

export async function runDocker(dir: string, print: Printer): Promise<void> {
  if (DOCKER.managers < 1 || DOCKER.managers > DOCKER.hosts) throw new Error(`BENCH_MANAGERS must be 1..${DOCKER.hosts}, not ${DOCKER.managers}`);
  const t0 = performance.now();
  const engineHosts = await EngineHosts.create(DOCKER.hosts, dir, DOCKER.logLevel);
  try {
    const { hosts } = engineHosts;
    note(`${hosts.length} hosts with engines and swarmd up in ${Math.round(performance.now() - t0)} ms`);
    await formCluster(hosts, DOCKER.managers).catch((e: Error) => {
      throw new Error(`${e.message}\n${engineHosts.logs()}`);
    });
    note(`cluster formed: ${DOCKER.managers} managers, ${hosts.length - DOCKER.managers} workers`);
    const sockets = hosts.map((h) => h.engine.socketPath);
    const warm = await createAndStartDirect({ sockets, containers: sockets.length, image: TEST_IMAGE, command: COMMAND, inFlightPerEngine: 1, run: -1 });
    await removeDirect(sockets, DOCKER.inFlightPerEngine);
    note(`engines warmed (one container each: ${round2(warm)} s)`);

    const control = new LocalControl(hosts[0]!.socket);
    const results: { converge: number; direct: number }[] = [];
    try {
      for (let run = 0; run < DOCKER.runs; run++) {
        const cond = { run, order: run % 2 === 0 ? "direct, swarm" : "swarm, direct" };
        const measureDirect = async (): Promise<number> => {
          const { directS, cpu } = await directRun(hosts, run);
          print("direct_s", directS, "s", {
            ...cond,
            measured: `POST /containers/create + /start of ${DOCKER.replicas} containers, ${DOCKER.inFlightPerEngine} in flight per engine`,
            machine_cpu_s: cpu.machineS,
            swarmd_cpu_s: cpu.swarmdS,
            docker_swarm_floor_s: DOCKER_SWARM.direct_s,
          });
          return directS;
        };
        const measureSwarm = async (): Promise<number> => {
          const swarm = await swarmRun(control, hosts, run).catch((e: Error) => {
            throw new Error(`${e.message}\n${engineHosts.logs()}`);
          });
          print("converge_s", swarm.convergeS, "s", {
            ...cond,
            measured: `CreateService to the task watch event that brings the service to ${DOCKER.replicas} tasks RUNNING`,
            first_container_created_s: round2(swarm.firstCreatedS),
            last_container_started_s: round2(swarm.lastStartedS),
            last_running_committed_s: round2(swarm.lastRunningAppliedS),
            per_host: swarm.perHost,
            remove_s: round2(swarm.removeS),
            machine_cpu_s: swarm.cpu.machineS,
            swarmd_cpu_s: swarm.cpu.swarmdS,
            swarmd_cpu_s_by_host: swarm.cpu.byHost,
            raft_entries: swarm.raftEntries,
            docker_swarm_s: DOCKER_SWARM.converge_s,
          });
          return swarm.convergeS;
        };
        const direct = run % 2 === 0 ? await measureDirect() : 0;
        const converge = await measureSwarm();
        const floor = run % 2 === 0 ? direct : await measureDirect();
        results.push({ converge, direct: floor });
        print("above_floor_pct", (converge / floor - 1) * 100, "%", { ...cond, target: "<= 10", docker_swarm_pct: DOCKER_SWARM.above_floor_pct });
      }
    } finally {
      control.close();
    }
    if (results.length > 1) {
      const c = median(results.map((r) => r.converge));
      const d = median(results.map((r) => r.direct));
      const cond = { run: "median", runs: results.length };
      print("converge_s", c, "s", cond);
      print("direct_s", d, "s", cond);
      print("above_floor_pct", (c / d - 1) * 100, "%", { ...cond, target: "<= 10", docker_swarm_pct: DOCKER_SWARM.above_floor_pct });
    }
  } finally {
    await engineHosts.destroy();
  }
}
