// A child process of a bench (forked by agent-procs.ts): many simulated agents in one process. Each
// joins like a real node (its own key and CSR, the worker token, CA.IssueNodeCertificate through the
// leader), then runs an AgentSession with its own NodeTls and a Worker with a SimExecutor (every
// delay 0: prepare, start, stop happen at once) and a MemoryTaskStore. A client interceptor on each
// agent's Dispatcher channel counts heartbeats and status reports, and the tasks whose RUNNING
// status a manager acknowledged; the receive time of every task is recorded. Talks to its parent
// over the IPC channel (messages in sim-agents-protocol.ts).
import * as grpc from "@grpc/grpc-js";
import { SimExecutor } from "../../agent/executor/sim/index.js";
import { AgentSession, describeHost } from "../../agent/session/index.js";
import { MemoryTaskStore, Worker } from "../../agent/worker/index.js";
import { callLeader, unary } from "../../daemon/leader-call.js";
import { NodeTls, bootstrapClientCredentials, createKeyAndCsr, managerChannelOptions } from "../../manager/ca/index.js";
import { CAClient, type IssueNodeCertificateResponse } from "../../proto/gen/ca.js";
import type { UpdateTaskStatusRequest } from "../../proto/gen/dispatcher.js";
import { NodeAvailability, TaskState } from "../../proto/gen/types.js";
import type { FromAgents, Progress, Stats, ToAgents, StartCommand } from "./sim-agents-protocol.js";

const PROGRESS_EVERY_MS = 100;
const now = (): number => performance.timeOrigin + performance.now();

interface SimAgent {
  nodeId: string;
  session: AgentSession;
  worker: Worker;
}

const agents: SimAgent[] = [];
const counters = { heartbeats: 0, heartbeatErrors: 0, statusCalls: 0, statusUpdates: 0, statusErrors: 0, disconnects: 0, assignmentMessages: 0, workerErrors: 0 };
/** taskId → first receive time (ms since the epoch, sub-ms), not yet sent to the parent. */
let received: [string, number][] = [];
const seen = new Set<string>();
const runningAcked = new Set<string>();
const progress: Progress = { received: 0, firstReceivedAt: 0, lastReceivedAt: 0, runningAcked: 0, lastRunningAckedAt: 0 };
let progressTimer: NodeJS.Timeout | null = null;
let joinErrors = 0;
let lastJoinError = "";

function send(m: FromAgents): void {
  process.send?.(m);
}

/** Sends the progress within PROGRESS_EVERY_MS of a change (one message for a burst of changes). */
function progressChanged(): void {
  if (progressTimer) return;
  progressTimer = setTimeout(() => {
    progressTimer = null;
    send({ type: "progress", progress: { ...progress, received: seen.size, runningAcked: runningAcked.size } });
  }, PROGRESS_EVERY_MS);
}

function runningAcknowledged(taskIds: string[]): void {
  let changed = false;
  for (const id of taskIds) {
    if (runningAcked.has(id)) continue;
    runningAcked.add(id);
    changed = true;
  }
  if (!changed) return;
  progress.lastRunningAckedAt = now();
  progressChanged();
}

/** Counts OK heartbeats, committed status updates and acknowledged RUNNING statuses of every agent's Dispatcher channel. */
const counting: grpc.Interceptor = (options, nextCall) => {
  const path = options.method_definition.path;
  const isBeat = path.endsWith("/Heartbeat");
  const isStatus = path.endsWith("/UpdateTaskStatus");
  if (!isBeat && !isStatus) return new grpc.InterceptingCall(nextCall(options));
  let updates = 0;
  let running: string[] = [];
  return new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      next(metadata, {
        onReceiveStatus(status, nextStatus) {
          const ok = status.code === grpc.status.OK;
          if (isBeat) {
            if (ok) counters.heartbeats++;
            else counters.heartbeatErrors++;
          } else if (ok) {
            counters.statusCalls++;
            counters.statusUpdates += updates;
            runningAcknowledged(running);
          } else counters.statusErrors++;
          nextStatus(status);
        },
      });
      void listener;
    },
    sendMessage(message: UpdateTaskStatusRequest, next) {
      if (isStatus) {
        updates = message.updates?.length ?? 0;
        running = (message.updates ?? []).filter((u) => u.status?.state === TaskState.TASK_STATE_RUNNING).map((u) => u.taskId);
      }
      next(message);
    },
  });
};

async function join(cmd: StartCommand, index: number): Promise<{ tls: NodeTls; nodeId: string }> {
  const { keyPem, csrPem } = await createKeyAndCsr();
  const res = await callLeader(
    cmd.managers,
    (addr, ms) => {
      const client = new CAClient(addr, bootstrapClientCredentials(cmd.rootCertPem), managerChannelOptions());
      return unary<IssueNodeCertificateResponse>(
        (md, o, cb) =>
          client.issueNodeCertificate(
            { csr: Buffer.from(csrPem), token: cmd.token, hostname: `sim-${index}`, advertiseAddr: "127.0.0.1", availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE },
            md,
            o,
            cb,
          ),
        ms,
      ).finally(() => client.close());
    },
    { timeoutMs: 120_000, attemptMs: 60_000 },
  );
  const certPem = Buffer.from(res.certificate).toString();
  return { tls: new NodeTls({ rootCertPem: cmd.rootCertPem, certPem, keyPem }), nodeId: res.nodeId };
}

async function startAgent(cmd: StartCommand, index: number, tls: NodeTls, nodeId: string): Promise<SimAgent> {
  const description = { ...describeHost(), hostname: `sim-${index}` };
  const executor = new SimExecutor({ seed: index + 1 });
  const session = new AgentSession({
    managers: cmd.managers,
    credentials: () => ({ credentials: tls.clientCredentials(), channelOptions: { ...tls.channelOptions(), interceptors: [counting] } }),
    describe: () => Promise.resolve(description),
  });
  const worker = await Worker.open({ store: new MemoryTaskStore(), executor, report: (u) => session.reportStatus(u) });
  worker.on("warning", () => counters.workerErrors++);
  session.on("assignments", (ev) => {
    counters.assignmentMessages++;
    const t = now();
    let fresh = false;
    for (const task of ev.tasks) {
      if (seen.has(task.id)) continue;
      seen.add(task.id);
      received.push([task.id, t]);
      fresh = true;
    }
    if (fresh) {
      if (progress.firstReceivedAt === 0) progress.firstReceivedAt = t;
      progress.lastReceivedAt = t;
      progressChanged();
    }
    void worker
      .assign({ type: ev.type, tasks: ev.tasks, removedTaskIds: ev.removedTasks, secrets: ev.secrets, removedSecretIds: ev.removedSecrets, configs: ev.configs, removedConfigIds: ev.removedConfigs })
      .catch(() => counters.workerErrors++);
  });
  session.on("reconnected", () => void worker.reportAll().catch(() => undefined));
  session.on("disconnected", () => counters.disconnects++);
  session.start();
  return { nodeId, session, worker };
}

async function start(cmd: StartCommand): Promise<void> {
  const t0 = performance.now();
  let next = 0;
  const nodeIds: string[] = new Array<string>(cmd.count);
  await Promise.all(
    Array.from({ length: cmd.joinConcurrency }, async () => {
      while (next < cmd.count) {
        const i = next++;
        const index = cmd.base + i;
        try {
          const { tls, nodeId } = await join(cmd, index);
          nodeIds[i] = nodeId;
          // Sessions start as agents join, so the leader sees them arrive spread over the join time.
          agents.push(await startAgent(cmd, index, tls, nodeId));
        } catch (e) {
          joinErrors++;
          lastJoinError = (e as Error).message;
        }
      }
    }),
  );
  send({ type: "joined", nodeIds: nodeIds.filter((n) => n), joinMs: performance.now() - t0, errors: joinErrors, lastError: lastJoinError });
}

function stats(): Stats {
  const out: Stats = {
    ...counters,
    agents: agents.length,
    sessionsUp: agents.filter((a) => a.session.session !== null).length,
    sessionManagers: {},
    queuedStatuses: agents.reduce((n, a) => n + a.session.queuedStatuses, 0),
    received,
    memRssMb: process.memoryUsage().rss / 1048576,
  };
  for (const a of agents) {
    const m = a.session.session?.manager;
    if (m) out.sessionManagers[m] = (out.sessionManagers[m] ?? 0) + 1;
  }
  received = [];
  return out;
}

async function stop(): Promise<void> {
  await Promise.race([
    Promise.allSettled(agents.map(async (a) => {
      await a.session.stop();
      await a.worker.close();
    })),
    new Promise((r) => setTimeout(r, 5_000)),
  ]);
  send({ type: "stopped" });
  process.exit(0);
}

process.on("message", (m: ToAgents) => {
  if (m.type === "start") void start(m).catch((e: Error) => send({ type: "fatal", error: e.stack ?? e.message }));
  else if (m.type === "stats") send({ type: "stats", id: m.id, stats: stats() });
  else if (m.type === "stop") void stop();
});
// The parent went away (killed, crashed): never linger.
process.on("disconnect", () => process.exit(0));
