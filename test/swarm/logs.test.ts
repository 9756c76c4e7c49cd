// Service logs end to end on real test hosts: a worker's container prints known lines into its own
// Docker engine; a client reads them with Logs.SubscribeLogs on a manager's local socket, the leader's
// and a follower's (which forwards to the leader), with and without follow, with tail. Tasks are put
// into the store with the test-only TestHooks.PutTask on the leader (no orchestrators yet). The Docker
// executor's own log reading (frames, timestamps, TTY, tail, streams) is checked on the worker's engine.
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerExecutor } from "../../agent/executor/docker/index.js";
import type { LogLine, LogReadOptions } from "../../agent/executor/executor.js";
import { ControlClient } from "../../proto/gen/control.js";
import { LogStream, LogsClient, type LogMessage, type SubscribeLogsMessage, type SubscribeLogsRequest } from "../../proto/gen/logs.js";
import { Task } from "../../proto/gen/objects.js";
import { TestHooksClient } from "../../proto/gen/test_hooks.js";
import { TaskState } from "../../proto/gen/types.js";
import { TEST_IMAGE } from "../hosts/docker-engine.js";
import { waitFor } from "../hosts/poll.js";
import { SwarmHosts, type SwarmdHost } from "./swarm-hosts.js";

// h1 leader, h2 a second manager (a follower), h3 a worker with its own engine.
let c: SwarmHosts;
let leader: SwarmdHost;
let follower: SwarmdHost;
let worker: SwarmdHost;
let workerNodeId = "";
/** A task that printed one line on stderr, then (a moment later, so the engine logs it first) three on stdout, then sleeps. */
let printed: Task;
/** A task that prints "tick N" every 200 ms. */
let ticker: Task;

/** Prints known lines, then waits to be stopped. */
const PRINTER = ["sh", "-c", 'echo oops >&2; sleep 0.3; echo one; echo two; echo three; trap "exit 0" TERM; sleep 100000 & wait'];
const TICKER = ["sh", "-c", 'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done'];

function unary<Res>(invoke: (md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => invoke(new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))));
}

async function putTask(task: Task): Promise<Task> {
  const client = new TestHooksClient(`unix://${leader.socket}`, grpc.credentials.createInsecure());
  try {
    return await unary<Task>((md, o, cb) => client.putTask(task, md, o, cb));
  } finally {
    client.close();
  }
}

async function untilRunning(id: string): Promise<void> {
  const client = new ControlClient(`unix://${leader.socket}`, grpc.credentials.createInsecure());
  try {
    await waitFor(
      async () => {
        const t = (await unary<{ task?: Task }>((md, o, cb) => client.getTask({ taskId: id }, md, o, cb))).task;
        return t?.status?.state === TaskState.TASK_STATE_RUNNING || undefined;
      },
      { timeoutMs: 30_000, what: `task ${id} to run` },
    ).catch(c.withLogs);
  } finally {
    client.close();
  }
}

let seq = 0;
function taskId(): string {
  seq++;
  return `l${process.pid.toString(36)}${Date.now().toString(36)}${seq.toString(36)}`.padEnd(25, "0").slice(0, 25);
}

/** A task ASSIGNED to the worker, running `command`. */
function task(service: string, command: string[], tty = false): Task {
  return Task.fromPartial({
    id: taskId(),
    serviceId: `svc-${service}`,
    slot: 1,
    nodeId: workerNodeId,
    serviceAnnotations: { name: service, labels: {} },
    spec: { runtime: { $case: "container", container: { image: TEST_IMAGE, command, tty } } },
    status: { state: TaskState.TASK_STATE_ASSIGNED, message: "assigned by the test", timestampUnixMs: Date.now() },
    desiredState: TaskState.TASK_STATE_RUNNING,
  });
}

async function runTask(t: Task): Promise<Task> {
  const put = await putTask(t);
  await untilRunning(put.id);
  return put;
}

function request(selector: Partial<NonNullable<SubscribeLogsRequest["selector"]>>, options: Partial<NonNullable<SubscribeLogsRequest["options"]>> = {}): SubscribeLogsRequest {
  return {
    selector: { serviceIds: [], nodeIds: [], taskIds: [], ...selector },
    options: { streams: [], follow: false, tail: -1, sinceUnixMs: 0, ...options },
  };
}

interface Subscription {
  messages: LogMessage[];
  warnings: string[];
  /** Resolves when the stream ends: null, or its error. */
  done: Promise<grpc.ServiceError | null>;
  cancel(): void;
}

/** SubscribeLogs on `on`'s local socket. */
function subscribe(on: SwarmdHost, req: SubscribeLogsRequest): Subscription {
  const client = new LogsClient(`unix://${on.socket}`, grpc.credentials.createInsecure());
  const call = client.subscribeLogs(req);
  const s: Subscription = { messages: [], warnings: [], done: Promise.resolve(null), cancel: () => call.cancel() };
  s.done = new Promise<grpc.ServiceError | null>((resolve) => {
    call.on("data", (m: SubscribeLogsMessage) => {
      s.messages.push(...m.messages);
      s.warnings.push(...m.warnings);
    });
    call.on("error", (e: grpc.ServiceError) => resolve(e));
    call.on("end", () => resolve(null));
  }).finally(() => client.close());
  return s;
}

/** The stream's lines as text, of one stream. */
function textOf(messages: LogMessage[], stream: LogStream): string[] {
  return messages.filter((m) => m.stream === stream).map((m) => m.data.toString());
}

beforeAll(async () => {
  c = await SwarmHosts.create(3, { engines: [2], testHooks: true });
  [leader, follower, worker] = c.hosts as [SwarmdHost, SwarmdHost, SwarmdHost];
  await leader.ok("init");
  const managerToken = (await leader.ok("join-token", "-q", "manager")).trim();
  const workerToken = (await leader.ok("join-token", "-q", "worker")).trim();
  await follower.ok("join", "--token", managerToken, leader.addr);
  await worker.ok("join", "--token", workerToken, leader.addr);
  await c.untilNodes(leader, "3 ready nodes", (nodes) => {
    expect(nodes.map((n) => `${n.Hostname}:${n.Status}`).sort()).toEqual(["h1:Ready", "h2:Ready", "h3:Ready"]);
  });
  workerNodeId = (await worker.info()).nodeId;
  printed = await runTask(task("printer", PRINTER));
  ticker = await runTask(task("ticker", TICKER));
}, 180_000);

afterAll(async () => {
  await c?.destroy();
}, 60_000);

describe("service logs through the managers' local sockets", () => {
  it("reads a task's lines on the leader and through a follower, in order, with their task, node and timestamps", async () => {
    const started = Date.now() - 120_000;
    for (const on of [leader, follower]) {
      // The container has printed its lines once the task runs, but the engine may log them a moment later.
      const s = await waitFor(
        async () => {
          const r = subscribe(on, request({ taskIds: [printed.id] }));
          const err = await r.done;
          if (err) throw err;
          return r.messages.length === 4 ? r : undefined;
        },
        { timeoutMs: 20_000, what: `the printer's four lines from ${on.host.name}` },
      ).catch(c.withLogs);
      expect(textOf(s.messages, LogStream.LOG_STREAM_STDOUT)).toEqual(["one\n", "two\n", "three\n"]);
      expect(textOf(s.messages, LogStream.LOG_STREAM_STDERR)).toEqual(["oops\n"]);
      expect(s.warnings).toEqual([]);
      for (const m of s.messages) {
        expect(m.context).toEqual({ serviceId: "svc-printer", nodeId: workerNodeId, taskId: printed.id });
        expect(m.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
        expect(Date.parse(m.timestamp)).toBeGreaterThan(started);
      }
    }
  });

  it("keeps only the last lines with tail, and only the streams asked for", async () => {
    const s = subscribe(follower, request({ taskIds: [printed.id] }, { tail: 2 }));
    expect(await s.done).toBeNull();
    expect(s.messages.map((m) => m.data.toString())).toEqual(["two\n", "three\n"]);
    const errors = subscribe(follower, request({ taskIds: [printed.id] }, { streams: [LogStream.LOG_STREAM_STDERR] }));
    expect(await errors.done).toBeNull();
    expect(errors.messages.map((m) => m.data.toString())).toEqual(["oops\n"]);
    const all = subscribe(leader, request({ taskIds: [printed.id] }, { tail: 0 }));
    expect(await all.done).toBeNull();
    expect(all.messages).toEqual([]);
  });

  it("with follow, streams new lines until the client cancels", async () => {
    for (const on of [follower, leader]) {
      const s = subscribe(on, request({ taskIds: [ticker.id] }, { follow: true, tail: 1 }));
      await waitFor(() => s.messages.length >= 4 || undefined, { timeoutMs: 20_000, what: `4 ticks from ${on.host.name}` }).catch(c.withLogs);
      const ticks = s.messages.map((m) => Number(/^tick (\d+)\n$/.exec(m.data.toString())?.[1]));
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBe(ticks[i - 1]! + 1);
      s.cancel();
      expect(await s.done).toMatchObject({ code: grpc.status.CANCELLED });
    }
  });

  it("with follow on the worker's node, also streams a task that starts after the subscription", async () => {
    const s = subscribe(follower, request({ nodeIds: [workerNodeId] }, { follow: true, tail: 0 }));
    const late = task("late", ["sh", "-c", 'echo "late line"; trap "exit 0" TERM; sleep 100000 & wait']);
    await runTask(late);
    await waitFor(() => s.messages.some((m) => m.context?.taskId === late.id && m.data.toString() === "late line\n") || undefined, {
      timeoutMs: 20_000,
      what: "the late task's line",
    }).catch(c.withLogs);
    s.cancel();
    await s.done;
  });

  it("refuses an unknown task or service in docker's words, and a worker's socket says it is not a manager", async () => {
    expect(await subscribe(follower, request({ taskIds: ["nosuchtask"] })).done).toMatchObject({ code: grpc.status.NOT_FOUND, details: "no such task: nosuchtask" });
    expect(await subscribe(leader, request({ serviceIds: ["nosuchservice"] })).done).toMatchObject({ code: grpc.status.NOT_FOUND, details: "no such service: nosuchservice" });
    expect(await subscribe(leader, request({})).done).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(await subscribe(worker, request({ taskIds: [printed.id] })).done).toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining("not a swarm manager"),
    });
  });
});

describe("DockerExecutor.logs on the worker's engine", () => {
  const all: LogReadOptions = { follow: false, tail: -1, sinceUnixMs: 0, streams: [] };

  async function read(ex: DockerExecutor, t: Task, options: LogReadOptions): Promise<LogLine[]> {
    const out: LogLine[] = [];
    for await (const l of ex.logs(t, options, new AbortController().signal)) out.push(l);
    return out;
  }

  it("demultiplexes stdout and stderr, splits the timestamps off, and honours tail, since and streams", async () => {
    const ex = new DockerExecutor({ socketPath: worker.engine!.socketPath, nodeId: workerNodeId });
    try {
      const lines = await read(ex, printed, all);
      expect(lines.map((l) => `${l.stream} ${l.data.toString()}`).sort()).toEqual(["stderr oops\n", "stdout one\n", "stdout three\n", "stdout two\n"]);
      const three = lines.find((l) => l.data.toString() === "three\n")!;
      expect(three.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z$/);
      expect((await read(ex, printed, { ...all, streams: ["stderr"] })).map((l) => l.data.toString())).toEqual(["oops\n"]);
      expect(await read(ex, printed, { ...all, sinceUnixMs: Date.now() + 60_000 })).toEqual([]);
      expect(await read(ex, task("never-ran", ["true"]), all)).toEqual([]); // no container
    } finally {
      await ex.close();
    }
  });

  it("reads a TTY container's raw output as stdout", async () => {
    const tty = await runTask(task("tty", ["sh", "-c", 'echo "on a tty"; trap "exit 0" TERM; sleep 100000 & wait'], true));
    const ex = new DockerExecutor({ socketPath: worker.engine!.socketPath, nodeId: workerNodeId });
    try {
      const lines = await waitFor(async () => {
        const l = await read(ex, tty, all);
        return l.length > 0 ? l : undefined;
      }, { timeoutMs: 10_000, what: "the TTY container's line" });
      expect(lines.map((l) => [l.stream, l.data.toString()])).toEqual([["stdout", "on a tty\r\n"]]);
    } finally {
      await ex.close();
    }
  });
});
