// Logs end to end in one process over real gRPC on 127.0.0.1 (insecure; the node id travels in
// metadata instead of a certificate): the broker and its adapters on a "leader", a "follower" that
// forwards Logs to it, and real agent publishers over the sim executor.
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, SimExecutor, until } from "../../agent/executor/sim/index.js";
import { LogPublisher } from "../../agent/logs/index.js";
import type { AgentSessionEvents } from "../../agent/session/index.js";
import { LogBrokerClient, LogBrokerService, LogsClient, LogsService, type SubscribeLogsMessage, type SubscribeLogsRequest } from "../../proto/gen/logs.js";
import { Task } from "../../proto/gen/objects.js";
import { TaskState, type TaskStatus } from "../../proto/gen/types.js";
import { LEADER_ADDR_METADATA } from "../../proto/metadata.js";
import type { MemoryStore } from "../store/index.js";
import { LogBroker } from "./broker.js";
import { logBrokerServiceImplementation, logsServiceImplementation } from "./grpc-adapter.js";
import { addNode, addService, addTask, newStore } from "./test-support.js";

const insecure = grpc.credentials.createInsecure();
const NODE_ID_METADATA = "test-node-id";
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function nodeMetadata(nodeId: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(NODE_ID_METADATA, nodeId);
  return md;
}

async function bind(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  cleanups.push(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

/** A manager serving Logs and LogBroker; `leader` null makes it the leader, else a follower naming that leader. */
async function serveManager(broker: LogBroker, leader: string | null): Promise<string> {
  const server = new grpc.Server();
  const clients = new Map<string, grpc.Client>();
  cleanups.push(() => clients.forEach((c) => c.close()));
  const leadership = { isLeader: () => leader === null, leaderAddr: () => leader };
  server.addService(
    LogBrokerService,
    logBrokerServiceImplementation(broker, {
      ...leadership,
      identify: (call) => {
        const v = call.metadata.get(NODE_ID_METADATA)[0];
        return typeof v === "string" ? { nodeId: v } : null;
      },
    }),
  );
  server.addService(
    LogsService,
    logsServiceImplementation(broker, {
      ...leadership,
      acceptTimeoutMs: 2_000,
      leaderClient: (addr) => {
        let c = clients.get(addr);
        if (!c) clients.set(addr, (c = new grpc.Client(addr, insecure)));
        return c;
      },
    }),
  );
  return bind(server);
}

function running(): TaskStatus {
  return { timestampUnixMs: 0, state: TaskState.TASK_STATE_RUNNING, message: "", err: "", container: undefined, portStatus: undefined, appliedBy: "", appliedAtUnixMs: 0 };
}

/** An agent on `nodeId` running `taskIds` (tasks of svc1) on a sim executor, its publisher listening at `addr`. */
async function agent(nodeId: string, taskIds: string[], addr: string): Promise<{ publisher: LogPublisher; session: EventEmitter<AgentSessionEvents>; sim: SimExecutor }> {
  const session = new EventEmitter<AgentSessionEvents>();
  const worker = Object.assign(new EventEmitter<{ status: [string, TaskStatus] }>(), { status: (): TaskStatus | undefined => undefined });
  const sim = new SimExecutor({ clock: new ManualClock(1_700_000_000_000) });
  const publisher = new LogPublisher({
    nodeId,
    reader: sim,
    session,
    worker,
    credentials: () => ({ credentials: insecure, channelOptions: {} }),
    metadata: () => nodeMetadata(nodeId),
    backoff: { initialMs: 5, maxMs: 20 },
  });
  publisher.start();
  cleanups.push(() => publisher.stop());
  const tasks = taskIds.map((id) => Task.fromPartial({ id, serviceId: "svc1", nodeId, spec: { runtime: { $case: "container", container: { image: "busybox" } } } }));
  session.emit("assignments", { type: "complete", tasks, removedTasks: [], secrets: [], removedSecrets: [], configs: [], removedConfigs: [] });
  for (const t of tasks) {
    const c = sim.controller(t, { secrets: [], configs: [] });
    await c.prepare(new AbortController().signal);
    await c.start();
    worker.emit("status", t.id, running());
  }
  session.emit("session", "s1", addr);
  return { publisher, session, sim };
}

interface Received {
  lines: string[];
  warnings: string[];
  done: Promise<grpc.ServiceError | null>;
  call: grpc.ClientReadableStream<SubscribeLogsMessage>;
}

function subscribeLogs(addr: string, req: SubscribeLogsRequest): Received {
  const client = new LogsClient(addr, insecure);
  cleanups.push(() => client.close());
  const call = client.subscribeLogs(req);
  const r: Received = { lines: [], warnings: [], call, done: Promise.resolve(null) };
  r.done = new Promise((resolve) => {
    call.on("data", (m: SubscribeLogsMessage) => {
      for (const l of m.messages) r.lines.push(`${l.context?.nodeId}/${l.context?.taskId} ${l.data.toString().trimEnd()}`);
      r.warnings.push(...m.warnings);
    });
    call.on("error", (e: grpc.ServiceError) => resolve(e));
    call.on("end", () => resolve(null));
  });
  return r;
}

function request(selector: Partial<NonNullable<SubscribeLogsRequest["selector"]>>, follow = false): SubscribeLogsRequest {
  return { selector: { serviceIds: [], nodeIds: [], taskIds: [], ...selector }, options: { streams: [], follow, tail: -1, sinceUnixMs: 0 } };
}

async function cluster(): Promise<{ store: MemoryStore; broker: LogBroker; leader: string; follower: string }> {
  const store = newStore();
  for (const n of ["n1", "n2"]) await addNode(store, n);
  await addService(store, "svc1", "web");
  await addTask(store, "t1", "svc1", "n1", TaskState.TASK_STATE_RUNNING);
  await addTask(store, "t2", "svc1", "n2", TaskState.TASK_STATE_RUNNING);
  const broker = new LogBroker({ store, listenerWaitMs: 300 });
  broker.start();
  cleanups.push(() => broker.stop());
  const leader = await serveManager(broker, null);
  const follower = await serveManager(broker, leader);
  return { store, broker, leader, follower };
}

const EXPECTED = ["n1/t1 task t1 line 1", "n1/t1 task t1 line 2", "n1/t1 task t1 line 3", "n2/t2 task t2 line 1", "n2/t2 task t2 line 2", "n2/t2 task t2 line 3"];

describe("Logs and LogBroker over gRPC", () => {
  it("streams a service's logs from every node's agent, on the leader and through a follower", async () => {
    const { broker, leader, follower } = await cluster();
    await agent("n1", ["t1"], leader);
    await agent("n2", ["t2"], leader);
    await until(() => broker.listeningNodes().length === 2);
    for (const addr of [leader, follower]) {
      const r = subscribeLogs(addr, request({ serviceIds: ["web"] }));
      expect(await r.done).toBeNull();
      expect(r.lines.sort()).toEqual(EXPECTED);
      expect(r.warnings).toEqual([]);
    }
  });

  it("passes the leader's refusals through a follower in docker's words", async () => {
    const { follower, leader } = await cluster();
    for (const addr of [leader, follower]) {
      expect(await subscribeLogs(addr, request({ serviceIds: ["nope"] })).done).toMatchObject({ code: grpc.status.NOT_FOUND, details: "no such service: nope" });
      expect(await subscribeLogs(addr, request({})).done).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    }
  });

  it("with follow, keeps streaming until the client cancels, then the agents stop publishing", async () => {
    const { broker, leader, follower } = await cluster();
    const a1 = await agent("n1", ["t1"], leader);
    const a2 = await agent("n2", ["t2"], leader);
    await until(() => broker.listeningNodes().length === 2);
    const r = subscribeLogs(follower, request({ taskIds: ["t1", "t2"] }, true));
    await until(() => r.lines.length === 6);
    expect(a1.publisher.activeSubscriptions + a2.publisher.activeSubscriptions).toBe(2);
    r.call.cancel();
    await until(() => broker.subscriptionCount === 0 && a1.publisher.activeSubscriptions === 0 && a2.publisher.activeSubscriptions === 0);
  });

  it("warns about a node whose agent is not listening instead of waiting for it", async () => {
    const { broker, leader } = await cluster();
    await agent("n1", ["t1"], leader);
    await until(() => broker.listeningNodes().length === 1);
    const r = subscribeLogs(leader, request({ serviceIds: ["svc1"] }));
    expect(await r.done).toBeNull();
    expect(r.lines).toEqual(EXPECTED.slice(0, 3));
    expect(r.warnings).toEqual(["node n2 is not connected to the leader (no log listener within 0.3 s): its logs are missing"]);
  });

  it("sends agents that reach a follower to the leader, and refuses agents without an identity", async () => {
    const { follower, leader } = await cluster();
    const client = new LogBrokerClient(follower, insecure);
    cleanups.push(() => client.close());
    const err = await new Promise<grpc.ServiceError>((resolve) => client.listenSubscriptions({}, nodeMetadata("n1")).on("error", resolve));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.metadata.get(LEADER_ADDR_METADATA)).toEqual([leader]);
    const anonymous = new LogBrokerClient(leader, insecure);
    cleanups.push(() => anonymous.close());
    const refused = await new Promise<grpc.ServiceError>((resolve) => anonymous.listenSubscriptions({}).on("error", resolve));
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});
