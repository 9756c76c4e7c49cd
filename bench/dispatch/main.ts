// `npm run bench:dispatch`: three manager `swarmd` processes on loopback (`--executor sim
// --test-hooks`, the default 5 s heartbeat) formed with Init + Join over their local sockets, then
// BENCH_AGENTS simulated agents (real node certificates from CA.IssueNodeCertificate, real gRPC
// sessions) spread over BENCH_AGENT_PROCS child processes (agents.ts). Two windows of
// BENCH_DURATION_MS each: heartbeats only, then tasks put ASSIGNED at BENCH_TASK_RATE per second
// (TestHooks.PutTask on the leader's socket, round-robin over the agents' nodes). Prints one JSON
// object per figure. Everything it started is stopped by PID and its temp dir removed, even on failure.
import { fork, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, closeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ControlClient, type ListClustersResponse } from "../../proto/gen/control.js";
import { DaemonClient, type InfoResponse, type InitResponse, type JoinResponse } from "../../proto/gen/daemon.js";
import { Task } from "../../proto/gen/objects.js";
import { TestHooksClient } from "../../proto/gen/test_hooks.js";
import { TaskState } from "../../proto/gen/types.js";
import type { FromAgents, Stats, ToAgents } from "./protocol.js";

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
/** Compiled next to this file: dist/bench/dispatch → dist/daemon. */
const SWARMD = path.join(import.meta.dirname, "../../daemon/main.js");
const AGENTS_JS = path.join(import.meta.dirname, "agents.js");
const CLK_TCK = 100;

const common = { bench: "dispatch", managers: MANAGERS, agents: AGENTS, agent_procs: AGENT_PROCS, heartbeat_period_s: 5, executor: "sim", transport: "grpc-tls-loopback" };

function print(metric: string, value: number, unit: string, conditions: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...common, metric, value: Math.round(value * 100) / 100, unit, ...conditions }));
}

function note(msg: string): void {
  process.stderr.write(`# ${new Date().toISOString().slice(11, 23)} ${msg}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.timeOrigin + performance.now();

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await sleep(everyMs);
  }
}

function unary<Res>(invoke: (md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, timeoutMs = 30_000): Promise<Res> {
  return new Promise((resolve, reject) => invoke(new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res))));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** CPU seconds (user + system) and RSS of a process, from /proc. */
function procSample(pid: number): { cpuS: number; rssMb: number; at: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuS = (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return { cpuS, rssMb: rss ? Number(rss[1]) / 1024 : 0, at: performance.now() };
}

function cpuPct(a: { cpuS: number; at: number }, b: { cpuS: number; at: number }): number {
  return ((b.cpuS - a.cpuS) / ((b.at - a.at) / 1000)) * 100;
}

// ---------- processes we started (stopped by PID in cleanup) ----------

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    process.kill(child.pid, "SIGTERM");
  } catch {
    return;
  }
  const t = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, graceMs);
  await exited;
  clearTimeout(t);
}

// ---------- managers ----------

class Manager {
  proc: ChildProcess | null = null;
  readonly dataDir: string;
  readonly socket: string;
  readonly logFile: string;
  readonly addr: string;
  raftId = 0;
  nodeId = "";

  constructor(
    readonly index: number,
    dir: string,
    readonly port: number,
  ) {
    const home = path.join(dir, `m${index}`);
    mkdirSync(home, { recursive: true });
    this.dataDir = path.join(home, "data");
    this.socket = path.join(home, "swarmd.sock");
    this.logFile = path.join(home, "swarmd.log");
    this.addr = `127.0.0.1:${port}`;
  }

  get pid(): number {
    return this.proc!.pid!;
  }

  start(): void {
    const fd = openSync(this.logFile, "a");
    const args = [
      SWARMD,
      "--data-dir", this.dataDir,
      "-H", `unix://${this.socket}`,
      "--listen-addr", this.addr,
      "--advertise-addr", this.addr,
      "--hostname", `mgr-${this.index}`,
      "--executor", "sim",
      "--test-hooks",
      "--log-level", LOG_LEVEL,
    ];
    this.proc = track(spawn(process.execPath, args, { stdio: ["ignore", fd, fd] }));
    closeSync(fd);
  }

  tail(lines = 20): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  private daemon<T>(fn: (c: DaemonClient) => Promise<T>): Promise<T> {
    const c = new DaemonClient(`unix://${this.socket}`, grpc.credentials.createInsecure());
    return fn(c).finally(() => c.close());
  }

  info(): Promise<InfoResponse> {
    return this.daemon((c) => unary<InfoResponse>((md, o, cb) => c.info({}, md, o, cb), 5_000));
  }

  init(): Promise<InitResponse> {
    return this.daemon((c) =>
      unary<InitResponse>((md, o, cb) =>
        c.init({ listenAddr: this.addr, advertiseAddr: this.addr, autolock: false, certExpiryMs: 0, forceNewCluster: false, dispatcherHeartbeatMs: 0 }, md, o, cb),
      ),
    );
  }

  join(remote: string, token: string): Promise<JoinResponse> {
    return this.daemon((c) =>
      unary<JoinResponse>((md, o, cb) => c.join({ token, remoteAddr: remote, advertiseAddr: this.addr, listenAddr: this.addr, availability: 0 }, md, o, cb), 60_000),
    );
  }

  clusters(): Promise<ListClustersResponse> {
    const c = new ControlClient(`unix://${this.socket}`, grpc.credentials.createInsecure());
    return unary<ListClustersResponse>((md, o, cb) => c.listClusters({ filters: undefined }, md, o, cb)).finally(() => c.close());
  }
}

// ---------- agent processes ----------

class AgentProc {
  readonly child: ChildProcess;
  private readonly waiters = new Map<number, (s: Stats) => void>();
  private seq = 0;
  joined: Promise<{ nodeIds: string[]; joinMs: number; errors: number; lastError: string }>;

  constructor(readonly index: number) {
    this.child = track(fork(AGENTS_JS, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
    let onJoined!: (v: { nodeIds: string[]; joinMs: number; errors: number; lastError: string }) => void;
    let onFail!: (e: Error) => void;
    this.joined = new Promise((resolve, reject) => {
      onJoined = resolve;
      onFail = reject;
    });
    this.joined.catch(() => undefined);
    this.child.on("message", (m: FromAgents) => {
      if (m.type === "joined") onJoined(m);
      else if (m.type === "fatal") onFail(new Error(`agent process ${index}: ${m.error}`));
      else if (m.type === "stats") {
        this.waiters.get(m.id)?.(m.stats);
        this.waiters.delete(m.id);
      }
    });
    this.child.once("exit", (code, signal) => onFail(new Error(`agent process ${index} exited (${code ?? signal})`)));
  }

  send(m: ToAgents): void {
    this.child.send(m);
  }

  stats(): Promise<Stats> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, resolve);
      this.send({ type: "stats", id });
      setTimeout(() => reject(new Error(`agent process ${this.index}: no stats within 30 s`)), 30_000).unref();
    });
  }
}

interface Totals {
  heartbeats: number;
  heartbeatErrors: number;
  statusUpdates: number;
  statusCalls: number;
  statusErrors: number;
  disconnects: number;
  sessionsUp: number;
  agents: number;
  queuedStatuses: number;
  sessionManagers: Record<string, number>;
  received: [string, number][];
  agentRssMb: number;
}

async function totals(procs: AgentProc[]): Promise<Totals> {
  const all = await Promise.all(procs.map((p) => p.stats()));
  const t: Totals = { heartbeats: 0, heartbeatErrors: 0, statusUpdates: 0, statusCalls: 0, statusErrors: 0, disconnects: 0, sessionsUp: 0, agents: 0, queuedStatuses: 0, sessionManagers: {}, received: [], agentRssMb: 0 };
  for (const s of all) {
    t.heartbeats += s.heartbeats;
    t.heartbeatErrors += s.heartbeatErrors;
    t.statusUpdates += s.statusUpdates;
    t.statusCalls += s.statusCalls;
    t.statusErrors += s.statusErrors;
    t.disconnects += s.disconnects;
    t.sessionsUp += s.sessionsUp;
    t.agents += s.agents;
    t.queuedStatuses += s.queuedStatuses;
    t.agentRssMb += s.memRssMb;
    for (const [m, n] of Object.entries(s.sessionManagers)) t.sessionManagers[m] = (t.sessionManagers[m] ?? 0) + n;
    for (const r of s.received) t.received.push(r);
  }
  return t;
}

// ---------- the run ----------

let taskSeq = 0;
function taskId(): string {
  taskSeq++;
  return `b${process.pid.toString(36)}${taskSeq.toString(36).padStart(6, "0")}`.padEnd(25, "0").slice(0, 25);
}

async function run(dir: string): Promise<void> {
  const ports = new Set<number>();
  while (ports.size < MANAGERS) ports.add(await freePort());
  const managers = [...ports].map((p, i) => new Manager(i + 1, dir, p));
  for (const m of managers) m.start();
  await Promise.all(managers.map((m) => waitFor(`swarmd m${m.index} to answer`, 30_000, () => m.info())));

  const t0 = performance.now();
  const m1 = managers[0]!;
  const init = await m1.init();
  const cluster = (await m1.clusters()).clusters[0]!;
  const managerToken = cluster.rootCa!.joinTokens!.manager;
  const rootCertPem = Buffer.from(cluster.rootCa!.caCert).toString();
  for (const m of managers.slice(1)) await m.join(m1.addr, managerToken);
  const infos = await waitFor("3 Raft members with a leader", 60_000, async () => {
    const is = await Promise.all(managers.map((m) => m.info()));
    const ok = is.every((i) => i.raft && i.raft.members.length === MANAGERS && i.raft.leaderRaftId !== 0 && i.raft.members.every((x) => x.reachable));
    return ok ? is : null;
  });
  managers.forEach((m, i) => {
    m.raftId = infos[i]!.raft!.raftId;
    m.nodeId = infos[i]!.nodeId;
  });
  const leader = managers.find((m) => m.raftId === infos[0]!.raft!.leaderRaftId)!;
  note(`managers up in ${Math.round(performance.now() - t0)} ms; leader m${leader.index} (pid ${leader.pid}, ${leader.addr})`);

  // Agents: join with bounded concurrency; each starts its session as soon as it has its certificate.
  const procs = Array.from({ length: AGENT_PROCS }, (_, i) => new AgentProc(i));
  const joinStart = performance.now();
  let base = 0;
  for (const p of procs) {
    const count = Math.floor(AGENTS / AGENT_PROCS) + (p.index < AGENTS % AGENT_PROCS ? 1 : 0);
    p.send({ type: "start", managers: managers.map((m) => m.addr), token: init.workerToken, rootCertPem, count, base, joinConcurrency: JOIN_CONCURRENCY });
    base += count;
  }
  const progress = setInterval(() => {
    void totals(procs).then(
      (t) => note(`joined ${t.agents}/${AGENTS}, sessions up ${t.sessionsUp}, leader cpu+rss ${JSON.stringify(procSample(leader.pid))}`),
      () => undefined,
    );
  }, 10_000);
  let joined;
  try {
    joined = await Promise.all(procs.map((p) => p.joined));
  } finally {
    clearInterval(progress);
  }
  const joinMs = performance.now() - joinStart;
  const joinErrors = joined.reduce((n, j) => n + j.errors, 0);
  const nodeIds = joined.flatMap((j) => j.nodeIds);
  if (joinErrors > 0) note(`${joinErrors} joins failed; last: ${joined.find((j) => j.lastError)?.lastError ?? ""}`);
  print("join_s", joinMs / 1000, "s", { joined: nodeIds.length, errors: joinErrors, join_concurrency: JOIN_CONCURRENCY * AGENT_PROCS, measured: "first CSR to the last agent's certificate (key + CSR + CA.IssueNodeCertificate each, sessions starting meanwhile)" });
  if (nodeIds.length === 0) throw new Error("no agent joined");

  const sessionsStart = performance.now();
  await waitFor(`all ${nodeIds.length} agent sessions up on the leader`, 180_000, async () => {
    const t = await totals(procs);
    return t.sessionManagers[leader.addr] === nodeIds.length;
  }, 1_000);
  print("sessions_up_s", (performance.now() - joinStart) / 1000, "s", { sessions: nodeIds.length, after_last_join_s: Math.round(performance.now() - sessionsStart) / 1000, measured: "first CSR to every session open on the leader" });
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
      const sent = now();
      const p = unary<Task>((md, o, cb) => hooks.putTask(task, md, o, cb), 10_000).then(
        () => void answered.set(id, { sent, answered: now() }),
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

  await Promise.all(procs.map(async (p) => {
    p.send({ type: "stop" });
    await Promise.race([new Promise((r) => p.child.once("exit", r)), sleep(10_000)]);
  }));
}

const dir = mkdtempSync(path.join(tmpdir(), "bench-dispatch-"));
let failed = false;
const onSignal = (): void => {
  failed = true;
  void cleanup().finally(() => process.exit(130));
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);

async function cleanup(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, 10_000)));
  rmSync(dir, { recursive: true, force: true });
}

try {
  await run(dir);
} catch (e) {
  failed = true;
  process.stderr.write(`bench:dispatch failed: ${(e as Error).stack ?? String(e)}\n`);
  for (const m of ["m1", "m2", "m3"]) {
    try {
      const log = readFileSync(path.join(dir, m, "swarmd.log"), "utf8").trimEnd().split("\n").slice(-15).join("\n");
      process.stderr.write(`--- ${m} log tail\n${log}\n`);
    } catch {
      // no log
    }
  }
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
