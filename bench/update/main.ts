// `npm run bench:update`: a rolling update on real engines. BENCH_HOSTS (5) test hosts (network
// namespaces), each with its own Docker engine and swarmd (BENCH_MANAGERS, 3, managers; every node
// active); one service of BENCH_REPLICAS (20) replicas of the test image running
// `sh -c 'trap "exit 0" TERM; sleep 100000 & wait'` (stops at once). BENCH_ROUNDS (3) rounds, each a
// fresh env change sent with the `swarm` CLI on the leader's socket, without --detach:
// `service update --env-add BENCH_ROUND=<n> --update-parallelism 5 --update-delay 0s
// --update-order stop-first` (BENCH_PARALLELISM). Figures per round, then their median:
//   update_s            CLI spawned → every slot runs a task of the new spec (the last new task's
//                       RUNNING commit, from its status);
//   update_completed_s  CLI spawned → the update status's completed_at (includes the 5 s default
//                       monitor window of the last batch);
//   cli_wall_s          the CLI's wall time (it waits for the monitor window too): docker's own
//                       definition of its 16.1 s (`docker service update --env-add …` without
//                       --detach, median of 3 on the same layout).
//   floor_s             the same container work straight through the engines' APIs after each
//                       round (floor.ts): each engine replaces its share of the replicas, the
//                       parallelism spread over the engines; above_floor_s = update_s − floor_s.
// Target: ≤ 12 s. Each round's breakdown (phases and waves, breakdown.ts) goes to stdout as
// phase_ms figures and to stderr as notes. The leader is polled every BENCH_POLL_MS (100) to trace
// the tasks' states. Everything started is stopped and removed, even on failure.
import { TEST_IMAGE } from "../../test/hosts/docker-engine.js";
import { EngineHosts } from "../converge/engine-hosts.js";
import { QUICK_STOP_COMMAND, serviceSpec } from "../converge/service.js";
import { runBenchMain } from "../support/bench-main.js";
import { jsonPrinter, median, note, round2, type Printer } from "../support/report.js";
import { LocalControl } from "../support/swarmd-api.js";
import { waitFor } from "../support/wait.js";
import type { RoundBreakdown } from "./breakdown.js";
import { formCluster, isLeader } from "../support/form-cluster.js";
import { replaceDirect } from "./floor.js";
import { runRound } from "./round.js";
import { slotsRunningNewSpec, stateCounts } from "./watch-update.js";

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

const KNOBS = {
  hosts: env("BENCH_HOSTS", 5),
  managers: env("BENCH_MANAGERS", 3),
  replicas: env("BENCH_REPLICAS", 20),
  parallelism: env("BENCH_PARALLELISM", 5),
  rounds: env("BENCH_ROUNDS", 3),
  pollMs: env("BENCH_POLL_MS", 100),
  timeoutS: env("BENCH_TIMEOUT_S", 180),
  logLevel: process.env["BENCH_LOG_LEVEL"] ?? "info",
};

/** Stops at once at SIGTERM (a plain `sleep` as PID 1 would wait out the grace period). */
const COMMAND = QUICK_STOP_COMMAND;
const SERVICE_NAME = "bench-update";
/** Docker Swarm on the same layout: `docker service update` wall time without --detach, median of 3. */
const DOCKER_SWARM_CLI_S = 16.1;
const TARGET_S = 12;

const COMMON = { bench: "update", mode: "docker", hosts: KNOBS.hosts, managers: KNOBS.managers, replicas: KNOBS.replicas, parallelism: KNOBS.parallelism, delay: "0s", order: "stop-first", image: TEST_IMAGE };

const s = (ms: number | null): number | null => (ms === null ? null : round2(ms / 1000));

function printRound(print: Printer, round: number, b: RoundBreakdown, polls: number): void {
  const cond = { round, target_s: TARGET_S };
  print("update_s", b.updateMs / 1000, "s", {
    ...cond,
    measured: "CLI spawned → the last new task's RUNNING committed (every slot on the new spec)",
    seen_by_poll_s: s(b.updateSeenMs),
    cli_sent_s: s(b.sentMs),
    update_started_s: s(b.updateStartedMs),
    first_task_created_s: s(b.firstCreatedMs),
    extra_new_tasks: b.extraNewTasks,
    overlapping_slots: b.overlappingSlots,
    polls,
  });
  print("update_completed_s", b.completedMs === null ? null : b.completedMs / 1000, "s", { ...cond, measured: "CLI spawned → update status COMPLETED (completed_at; includes the 5 s monitor window)" });
  print("cli_wall_s", b.cliWallMs / 1000, "s", { ...cond, measured: "swarm service update without --detach, spawn to exit (waits for the monitor window)", docker_swarm_s: DOCKER_SWARM_CLI_S });
  for (const p of b.phases) print("phase_ms", p.p50Ms, "ms", { round, phase: p.name, stat: "p50", max_ms: round2(p.maxMs), n: p.n });
  for (const w of b.waves) {
    note(
      `round ${round} wave ${w.wave} (${w.tasks} tasks in creation order, on ${w.nodes} nodes): created ${s(w.firstCreatedMs)}–${s(w.lastCreatedMs)} s, ` +
        `last ASSIGNED ${s(w.lastAssignedMs)} s, last container started ${s(w.lastContainerStartedMs)} s, last RUNNING committed ${s(w.lastRunningCommittedMs)} s`,
    );
  }
}

async function createService(control: LocalControl): Promise<string> {
  const spec = serviceSpec({ name: SERVICE_NAME, image: TEST_IMAGE, command: COMMAND, replicas: KNOBS.replicas });
  spec.annotations!.labels = { bench: "update" };
  const t0 = performance.now();
  const created = await control.createService(spec);
  await waitFor(`${KNOBS.replicas} tasks of ${SERVICE_NAME} RUNNING`, KNOBS.timeoutS * 1000, async () => {
    const [svc, tasks] = await Promise.all([control.service(created.id), control.tasks({ serviceIds: [created.id] })]);
    const n = slotsRunningNewSpec(svc, tasks);
    if (n < KNOBS.replicas) throw new Error(`${n}/${KNOBS.replicas} running; tasks by state ${stateCounts(tasks)}`);
    return true;
  });
  note(`service ${SERVICE_NAME} created, ${KNOBS.replicas} replicas RUNNING in ${round2((performance.now() - t0) / 1000)} s`);
  return created.id;
}

async function run(dir: string, print: Printer): Promise<void> {
  const t0 = performance.now();
  const engineHosts = await EngineHosts.create(KNOBS.hosts, dir, KNOBS.logLevel);
  try {
    const { hosts } = engineHosts;
    note(`${hosts.length} hosts with engines and swarmd up in ${Math.round(performance.now() - t0)} ms`);
    await formCluster(hosts, KNOBS.managers).catch((e: Error) => {
      throw new Error(`${e.message}\n${engineHosts.logs()}`);
    });
    const leader = hosts[0]!;
    if (!(await isLeader(leader.socket))) throw new Error(`${leader.host.name}, which founded the cluster, is not the Raft leader`);
    note(`cluster formed: ${KNOBS.managers} managers, ${hosts.length - KNOBS.managers} workers; leader ${leader.host.name}`);
    const control = new LocalControl(leader.socket);
    try {
      const serviceId = await createService(control);
      const results: RoundBreakdown[] = [];
      const floors: number[] = [];
      for (let round = 1; round <= KNOBS.rounds; round++) {
        const r = await runRound({
          round,
          control,
          socket: leader.socket,
          serviceId,
          serviceName: SERVICE_NAME,
          replicas: KNOBS.replicas,
          parallelism: KNOBS.parallelism,
          engineSockets: hosts.map((h) => h.engine.socketPath),
          pollMs: KNOBS.pollMs,
          timeoutMs: KNOBS.timeoutS * 1000,
        }).catch((e: Error) => {
          throw new Error(`round ${round}: ${e.message}\n${engineHosts.logs()}`);
        });
        printRound(print, round, r.breakdown, r.polls);
        const floor = await replaceDirect({
          sockets: hosts.map((h) => h.engine.socketPath),
          containers: KNOBS.replicas,
          image: TEST_IMAGE,
          command: COMMAND,
          inFlightPerEngine: Math.max(1, Math.round(KNOBS.parallelism / hosts.length)),
          run: round,
        });
        print("floor_s", floor, "s", { round, measured: "the round's container work straight through the engines' APIs: stop old ∥ create + start new, parallelism spread over the engines" });
        print("above_floor_s", r.breakdown.updateMs / 1000 - floor, "s", { round });
        results.push(r.breakdown);
        floors.push(floor);
      }
      const cond = { round: "median", rounds: results.length, target_s: TARGET_S };
      print("update_s", median(results.map((b) => b.updateMs)) / 1000, "s", cond);
      print("update_completed_s", median(results.flatMap((b) => (b.completedMs === null ? [] : [b.completedMs]))) / 1000, "s", cond);
      print("cli_wall_s", median(results.map((b) => b.cliWallMs)) / 1000, "s", { ...cond, docker_swarm_s: DOCKER_SWARM_CLI_S });
      print("floor_s", median(floors), "s", { round: "median", rounds: floors.length });
    } finally {
      control.close();
    }
  } finally {
    await engineHosts.destroy();
  }
}

await runBenchMain("update", (dir) => run(dir, jsonPrinter(COMMON)));
