// `npm run bench:dispatch`: three manager `swarmd` processes on loopback (`--executor sim
// --test-hooks`, the default 5 s heartbeat) formed with Init + Join over their local sockets, then
// BENCH_AGENTS simulated agents (real node certificates from CA.IssueNodeCertificate, real gRPC
// sessions) spread over BENCH_AGENT_PROCS child processes (bench/support/sim-agents.ts). Two windows
// of BENCH_DURATION_MS each: heartbeats only, then tasks put ASSIGNED at BENCH_TASK_RATE per second
// (TestHooks.PutTask on the leader's socket, round-robin over the agents' nodes). Prints one JSON
// object per figure. Everything it started is stopped by PID and its temp dir removed, even on failure.
import * as grpc from "@grpc/grpc-js";
import { unary } from "../../daemon/leader-call.js";
import { Task } from "../../proto/gen/objects.js";
import { TestHooksClient } from "../../proto/gen/test_hooks.js";
import { TaskState } from "../../proto/gen/types.js";
import { joinAgents, stopAgentProcs, totals } from "../support/agent-procs.js";
import { runBenchMain } from "../support/bench-main.js";
import { managerLogTails, startLocalCluster } from "../support/local-managers.js";
import { cpuPct, procSample } from "../support/proc-stats.js";
import { jsonPrinter, note, quantile } from "../support/report.js";
import { epochMs, sleep } from "../support/wait.js";

const AGENTS = Number(process.env["BENCH_AGENTS"] ?? 1_000);
const AGENT_PROCS = Math.max(1, Math.min(AGENTS, Number(process.env["BENCH_AGENT_PROCS"] ?? 4)));
const DURATION_MS = Number(process.env["BENCH_DURATION_MS"] ?? 30_000);
const TASK_RATE = Number(process.env["BENCH_TASK_RATE"] ?? 50);
/** Joins in flight per agent process. */
const JOIN_CONCURRENCY = Number(process.env["BENCH_JOIN_CONCURRENCY"] ?? 4);
/** After every session is up, before measuring (heartbeats spread out, join writes settle). */
const SETTLE_MS = Number(process.env["BENCH_SETTLE_MS"] ?? 10_000);
const LOG_LEVEL = process.env["BENCH_LOG_LEVEL"] ?? "info";
const MANAGERS = 3;

const print = jsonPrinter({ bench: "dispatch", managers: MANAGERS, agents: AGENTS, agent_procs: AGENT_PROCS, heartbeat_period_s: 5, executor: "sim", transport: "grpc-tls-loopback" });

let taskSeq = 0;
function taskId(): string {
  taskSeq++;
  return `b${process.pid.toString(36)}${taskSeq.toString(36).padStart(6, "0")}`.padEnd(25, "0").slice(0, 25);
}

async function run(dir: string): Promise<void> {
  const t0 = performance.now();
  const cluster = await startLocalCluster(dir, MANAGERS, { swarmdArgs: ["--executor", "sim", "--test-hooks"], nodeFlags: [], logLevel: LOG_LEVEL });
  const { leader } = cluster;
  note(`managers up in ${Math.round(performance.now() - t0)} ms; leader m${leader.index} (pid ${leader.pid}, ${leader.addr})`);

  // Agents: join with bounded concurrency; each starts its session as soon as it has its certificate.
  const joined = await joinAgents(
    { agents: AGENTS, procs: AGENT_PROCS, managers: cluster.managers.map((m) => m.addr), workerToken: cluster.workerToken, rootCertPem: cluster.rootCertPem, joinConcurrency: JOIN_CONCURRENCY },
    leader.addr,
    () => `cpu+rss ${JSON.stringify(procSample(leader.pid))}`,
    note,
  );
  const { procs, nodeIds } = joined;
  print("join_s", joined.joinMs / 1000, "s", { joined: nodeIds.length, errors: joined.joinErrors, join_concurrency: JOIN_CONCURRENCY * AGENT_PROCS, measured: "first CSR to the last agent's certificate (key + CSR + CA.IssueNodeCertificate each, sessions starting meanwhile)" });
  print("sessions_up_s", joined.sessionsUpMs / 1000, "s", { sessions: nodeIds.length, after_last_join_s: Math.round(joined.sessionsAfterJoinMs) / 1000, measured: "first CSR to every session open on the leader" });
  note(`all sessions up; settling ${SETTLE_MS} ms`);
  await sleep(SETTLE_MS);

  // Window 1: heartbeats only.
  {
    const a = await totals(procs);
    const s0 = procSample(leader.pid);
    await sleep(DURATION_MS);
    const b = await totals(procs);
    const s1 = procSample(leader.pid);
    const secs = (s1.at - s0.at) / 1000;
    const cond = { load: "heartbeats only", duration_s: Math.round(secs * 10) / 10 };
    print("heartbeats_per_s", (b.heartbeats - a.heartbeats) / secs, "1/s", { ...cond, expected_per_s: Math.round(nodeIds.length / 5), heartbeat_errors: b.heartbeatErrors - a.heartbeatErrors, disconnects: b.disconnects - a.disconnects, measured: "OK Heartbeat answers counted by the agents" });
    print("leader_cpu_pct", cpuPct(s0, s1), "% of one core", { ...cond, target: "<= 25" });
    print("leader_rss_mb", s1.rssMb, "MB", { ...cond, agent_procs_rss_mb: Math.round(b.agentRssMb) });
  }

  // Window 2: tasks put ASSIGNED at TASK_RATE/s, round-robin over the agents' nodes.
  {
    const hooks = new TestHooksClient(`unix://${leader.socket}`, grpc.credentials.createInsecure());
    const answered = new Map<string, { sent: number; answered: number }>();
    let putErrors = 0;
    let lastPutError = "";
    let n = 0;
    const inflight = new Set<Promise<void>>();
    const a = await totals(procs);
    const s0 = procSample(leader.pid);
    const start = performance.now();
    const end = start + DURATION_MS;
    while (performance.now() < end) {
      // Steady rate: the i-th put goes out at start + i/rate.
      const due = start + (n * 1000) / TASK_RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const node = nodeIds[n % nodeIds.length]!;
      n++;
      const id = taskId();
      const task = Task.fromPartial({
        id,
        serviceId: "svc-bench",
        slot: n,
        nodeId: node,
        serviceAnnotations: { name: "bench", labels: {} },
        spec: { runtime: { $case: "container", container: { image: "sim/bench:latest", command: ["run-forever"] } } },
        status: { state: TaskState.TASK_STATE_ASSIGNED, message: "assigned by bench:dispatch", timestampUnixMs: Date.now() },
        desiredState: TaskState.TASK_STATE_RUNNING,
      });
      const sent = epochMs();
      const p = unary<Task>((md, o, cb) => hooks.putTask(task, md, o, cb), 10_000).then(
        () => void answered.set(id, { sent, answered: epochMs() }),
        (e: Error) => {
          putErrors++;
          lastPutError = e.message;
        },
      );
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await Promise.all(inflight);
    const b = await totals(procs);
    const s1 = procSample(leader.pid);
    const secs = (s1.at - s0.at) / 1000;
    // Let the last assignments arrive, then collect every receive time.
    await sleep(2_000);
    const c = await totals(procs);
    hooks.close();
    const receivedAt = new Map<string, number>();
    for (const [id, t] of [...a.received, ...b.received, ...c.received]) if (!receivedAt.has(id)) receivedAt.set(id, t);
    const fromAnswer: number[] = [];
    const fromSend: number[] = [];
    let missing = 0;
    for (const [id, t] of answered) {
      const r = receivedAt.get(id);
      if (r === undefined) {
        missing++;
        continue;
      }
      fromAnswer.push(r - t.answered);
      fromSend.push(r - t.sent);
    }
    fromAnswer.sort((x, y) => x - y);
    fromSend.sort((x, y) => x - y);
    if (putErrors > 0) note(`${putErrors} PutTask calls failed; last: ${lastPutError}`);
    const cond = { load: `heartbeats + ${TASK_RATE} tasks/s put ASSIGNED`, duration_s: Math.round(secs * 10) / 10, tasks_put: answered.size, put_errors: putErrors, not_received: missing };
    print("assignment_latency_p99_ms", quantile(fromAnswer, 0.99), "ms", {
      ...cond,
      target: "<= 200",
      p50_ms: Math.round(quantile(fromAnswer, 0.5) * 10) / 10,
      max_ms: Math.round((fromAnswer.at(-1) ?? 0) * 10) / 10,
      received_before_answer: fromAnswer.filter((x) => x < 0).length,
      p99_from_put_call_ms: Math.round(quantile(fromSend, 0.99) * 10) / 10,
      measured: "PutTask answer (task committed ASSIGNED) to the agent's Assignments message, wall clocks of one machine",
    });
    print("status_updates_per_s", (b.statusUpdates - a.statusUpdates) / secs, "1/s", {
      ...cond,
      update_calls_per_s: Math.round(((b.statusCalls - a.statusCalls) / secs) * 10) / 10,
      status_errors: b.statusErrors - a.statusErrors,
      queued_at_end: b.queuedStatuses,
      measured: "task status updates in OK UpdateTaskStatus answers, counted by the agents",
    });
    print("heartbeats_per_s", (b.heartbeats - a.heartbeats) / secs, "1/s", { ...cond, heartbeat_errors: b.heartbeatErrors - a.heartbeatErrors, disconnects: b.disconnects - a.disconnects });
    print("leader_cpu_pct", cpuPct(s0, s1), "% of one core", { ...cond, target: "<= 25" });
    print("leader_rss_mb", s1.rssMb, "MB", { ...cond, agent_procs_rss_mb: Math.round(b.agentRssMb) });
  }

  await stopAgentProcs(procs);
}

await runBenchMain("dispatch", run, managerLogTails);
