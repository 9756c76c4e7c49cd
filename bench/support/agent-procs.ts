// The bench's side of its simulated agents: BENCH_AGENTS agents spread over a few forked processes
// (sim-agents.ts), their join results, summed counters and pushed progress.
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import { track } from "./children.js";
import type { FromAgents, Progress, Stats, ToAgents } from "./sim-agents-protocol.js";
import { sleep } from "./wait.js";

/** Compiled next to this file. */
const SIM_AGENTS_JS = path.join(import.meta.dirname, "sim-agents.js");

export interface Joined {
  nodeIds: string[];
  joinMs: number;
  errors: number;
  lastError: string;
}

/** One forked process of simulated agents. */
export class AgentProc {
  readonly child: ChildProcess;
  private readonly waiters = new Map<number, (s: Stats) => void>();
  private seq = 0;
  readonly joined: Promise<Joined>;
  /** The latest progress this process pushed. */
  progress: Progress = { received: 0, firstReceivedAt: 0, lastReceivedAt: 0, runningAcked: 0, lastRunningAckedAt: 0 };
  /** Called after each progress message. */
  onProgress: (() => void) | null = null;

  constructor(readonly index: number) {
    this.child = track(fork(SIM_AGENTS_JS, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
    let onJoined!: (v: Joined) => void;
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
      } else if (m.type === "progress") {
        this.progress = m.progress;
        this.onProgress?.();
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

export interface AgentsStart {
  agents: number;
  procs: number;
  /** Managers' cluster addresses. */
  managers: string[];
  workerToken: string;
  rootCertPem: string;
  /** Joins in flight per process. */
  joinConcurrency: number;
}

/** Forks the processes and tells each to join its share of the agents (hostnames sim-0 … sim-<agents-1>). */
export function startAgentProcs(opts: AgentsStart): AgentProc[] {
  const procs = Array.from({ length: opts.procs }, (_, i) => new AgentProc(i));
  let base = 0;
  for (const p of procs) {
    const count = Math.floor(opts.agents / opts.procs) + (p.index < opts.agents % opts.procs ? 1 : 0);
    p.send({ type: "start", managers: opts.managers, token: opts.workerToken, rootCertPem: opts.rootCertPem, count, base, joinConcurrency: opts.joinConcurrency });
    base += count;
  }
  return procs;
}

/** Asks each process to stop its agents and exit (waits up to 10 s each). */
export async function stopAgentProcs(procs: AgentProc[]): Promise<void> {
  await Promise.all(
    procs.map(async (p) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      p.send({ type: "stop" });
      await Promise.race([new Promise((r) => p.child.once("exit", r)), sleep(10_000)]);
    }),
  );
}

export interface Totals {
  heartbeats: number;
  heartbeatErrors: number;
  statusUpdates: number;
  statusCalls: number;
  statusErrors: number;
  disconnects: number;
  sessionsUp: number;
  agents: number;
  queuedStatuses: number;
  workerErrors: number;
  sessionManagers: Record<string, number>;
  received: [string, number][];
  agentRssMb: number;
}

/** Every process's counters, summed. */
export async function totals(procs: AgentProc[]): Promise<Totals> {
  const all = await Promise.all(procs.map((p) => p.stats()));
  const t: Totals = { heartbeats: 0, heartbeatErrors: 0, statusUpdates: 0, statusCalls: 0, statusErrors: 0, disconnects: 0, sessionsUp: 0, agents: 0, queuedStatuses: 0, workerErrors: 0, sessionManagers: {}, received: [], agentRssMb: 0 };
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
    t.workerErrors += s.workerErrors;
    t.agentRssMb += s.memRssMb;
    for (const [m, n] of Object.entries(s.sessionManagers)) t.sessionManagers[m] = (t.sessionManagers[m] ?? 0) + n;
    for (const r of s.received) t.received.push(r);
  }
  return t;
}

export interface JoinedAgents {
  procs: AgentProc[];
  nodeIds: string[];
  /** First CSR to the last agent's certificate. */
  joinMs: number;
  joinErrors: number;
  /** First CSR to every session open on the leader. */
  sessionsUpMs: number;
  /** From the last certificate to every session open on the leader. */
  sessionsAfterJoinMs: number;
}

/**
 * Starts the agents, waits for every join (a progress note every 10 s via `describeLeader`), then
 * for every joined agent's session to be open on the leader at `leaderAddr`. Throws when no agent
 * joined; the processes are tracked children either way (stopChildren stops them).
 */
export async function joinAgents(opts: AgentsStart, leaderAddr: string, describeLeader: () => string, log: (msg: string) => void): Promise<JoinedAgents> {
  const joinStart = performance.now();
  const procs = startAgentProcs(opts);
  const progress = setInterval(() => {
    void totals(procs).then(
      (t) => log(`joined ${t.agents}/${opts.agents}, sessions up ${t.sessionsUp}, leader ${describeLeader()}`),
      () => undefined,
    );
  }, 10_000);
  let joined: Joined[];
  try {
    joined = await Promise.all(procs.map((p) => p.joined));
  } finally {
    clearInterval(progress);
  }
  const joinMs = performance.now() - joinStart;
  const joinErrors = joined.reduce((n, j) => n + j.errors, 0);
  const nodeIds = joined.flatMap((j) => j.nodeIds);
  if (joinErrors > 0) log(`${joinErrors} joins failed; last: ${joined.find((j) => j.lastError)?.lastError ?? ""}`);
  if (nodeIds.length === 0) throw new Error("no agent joined");
  const sessionsStart = performance.now();
  const until = Date.now() + 180_000;
  for (;;) {
    const t = await totals(procs);
    if (t.sessionManagers[leaderAddr] === nodeIds.length) break;
    if (Date.now() > until) throw new Error(`timed out after 180 s waiting for all ${nodeIds.length} agent sessions on the leader (${t.sessionManagers[leaderAddr] ?? 0} there)`);
    await sleep(1_000);
  }
  const end = performance.now();
  return { procs, nodeIds, joinMs, joinErrors, sessionsUpMs: end - joinStart, sessionsAfterJoinMs: end - sessionsStart };
}
