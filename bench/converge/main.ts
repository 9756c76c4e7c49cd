// `npm run bench:converge [-- --engine docker]`: how long a cluster takes to converge on a service,
// from the API call to every replica RUNNING. Prints one JSON object per figure (stdout), notes on
// stderr. Everything it starts is stopped by PID and its temp dir removed, even on failure.
//
// Default (sim, sim.ts): 3 manager swarmd processes on loopback (`--executor sim`, drained) and
// BENCH_AGENTS (1,000) simulated agents with real certificates and sessions in BENCH_AGENT_PROCS (4)
// child processes, each agent a Worker on a SimExecutor whose delays are all 0. One service is
// created with 0 replicas, then scaled to BENCH_REPLICAS (10,000) with one UpdateService.
// converge_s ends at the last distinct task whose RUNNING status a manager acknowledged to its agent
// (an OK UpdateTaskStatus, seen by an interceptor in the agent processes and pushed over IPC, so the
// leader is not polled); leader_rss_mb is the leader's VmRSS then (VmHWM beside it). Targets: ≤ 15 s,
// ≤ 800 MB. BENCH_NODE_FLAGS passes node flags to the managers (e.g. "--cpu-prof --cpu-prof-dir=DIR").
//
// --engine docker (docker.ts): 5 test hosts (network namespaces), each with its own Docker engine and
// swarmd; 100 replicas of the test image running a sleep. converge_s (CreateService to the task watch
// event that makes all RUNNING) beside direct_s, the same containers created and started straight
// through the engines' APIs, 4 in flight per engine: the floor. Target: at most 10 % above the floor
// (Docker Swarm: 65.6 s against 47.8 s, 37 % above). BENCH_RUNS runs, alternating which goes first.
import { runBenchMain } from "../support/bench-main.js";
import { managerLogTails } from "../support/local-managers.js";
import { jsonPrinter } from "../support/report.js";
import { DOCKER_COMMON, runDocker } from "./docker.js";
import { SIM_COMMON, runSim } from "./sim.js";

const ENGINES = ["sim", "docker"] as const;

function engineArg(argv: string[]): (typeof ENGINES)[number] {
  const i = argv.indexOf("--engine");
  const eq = argv.find((a) => a.startsWith("--engine="));
  const value = eq ? eq.slice("--engine=".length) : i >= 0 ? argv[i + 1] : "sim";
  const known = ENGINES.find((e) => e === value);
  if (!known) throw new Error(`--engine ${String(value)}: allowed are ${ENGINES.join(", ")}`);
  return known;
}

const engine = engineArg(process.argv.slice(2));
await runBenchMain(
  "converge",
  (dir) => (engine === "docker" ? runDocker(dir, jsonPrinter(DOCKER_COMMON)) : runSim(dir, jsonPrinter(SIM_COMMON))),
  () => (engine === "sim" ? managerLogTails() : ""),
);
