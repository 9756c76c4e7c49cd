// Assignments and task status over real gRPC on 127.0.0.1 (insecure; the node id comes from call
// metadata), between the real Dispatcher on a store with a local proposer and real AgentSessions.
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { AgentSession, type AssignmentsEvent } from "../../agent/session/index.js";
import { DispatcherService, type TaskStatusUpdate } from "../../proto/gen/dispatcher.js";
import { NodeDescription, TaskState, TaskStatus } from "../../proto/gen/types.js";
import type { Proposer } from "../store/index.js";
import { Dispatcher } from "./dispatcher.js";
import { dispatcherServiceImplementation, type DispatcherApi } from "./grpc-adapter.js";
import { addCluster, addNodes, addSecretsAndConfigs, addTasks, changeTask, newStore, removeTask, seeded, taskOf, waitFor } from "./test-support.js";

const insecure = grpc.credentials.createInsecure();
const NODE_ID_METADATA = "test-node-id";
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function identifyFromMetadata(call: { metadata: grpc.Metadata }): { nodeId: string } | null {
  const v = call.metadata.get(NODE_ID_METADATA)[0];
  return typeof v === "string" && v !== "" ? { nodeId: v } : null;
}

async function serve(api: DispatcherApi): Promise<string> {
  const server = new grpc.Server();
  server.addService(DispatcherService, dispatcherServiceImplementation(api, { identify: identifyFromMetadata, isLeader: () => true, leaderAddr: () => null }));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanups.push(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

/** A dispatcher that counts the status updates it is given. */
function counting(d: Dispatcher): { api: DispatcherApi; updates: TaskStatusUpdate[]; calls: () => number } {
  const updates: TaskStatusUpdate[] = [];
  let calls = 0;
  const api: DispatcherApi = {
    get running() {
      return d.running;
    },
    session: (...args) => d.session(...args),
    heartbeat: (...args) => d.heartbeat(...args),
    assignments: (...args) => d.assignments(...args),
    updateTaskStatus: (nodeId, sessionId, u) => {
      calls++;
      updates.push(...u);
      return d.updateTaskStatus(nodeId, sessionId, u);
    },
  };
  return { api, updates, calls: () => calls };
}

async function setup(nodeIds: string[]) {
  const { store, proposals } = newStore();
  await addCluster(store, 60_000); // heartbeats stay out of the way
  await addNodes(store, nodeIds);
  const d = new Dispatcher({ store, managers: () => [], random: seeded(7), nodeId: "m1", assignmentBatchMs: 5 });
  const abort = new AbortController();
  cleanups.push(() => abort.abort());
  const start = (): void => d.start(abort.signal);
  start();
  const c = counting(d);
  const addr = await serve(c.api);
  return { store, proposals, d, start, addr, ...c };
}

interface Agent {
  session: AgentSession;
  events: AssignmentsEvent[];
  sessions: string[];
  reconnects: number;
  /** The tasks the agent holds, by id, after applying every event (as a worker would). */
  tasks: Map<string, TaskState>;
  secrets: Map<string, string>;
}

function startAgent(nodeId: string, addr: string, seed: number): Agent {
  const md = new grpc.Metadata();
  md.set(NODE_ID_METADATA, nodeId);
  const a: Agent = {
    session: new AgentSession({
      managers: [addr],
      credentials: () => ({ credentials: insecure, channelOptions: {} }),
      describe: async () => NodeDescription.fromPartial({ hostname: `${nodeId}-host` }),
      random: seeded(seed),
      backoff: { initialMs: 5, maxMs: 50 },
      metadata: () => md,
    }),
    events: [],
    sessions: [],
    reconnects: 0,
    tasks: new Map(),
    secrets: new Map(),
  };
  a.session.on("session", (id) => a.sessions.push(id));
  a.session.on("reconnected", () => a.reconnects++);
  a.session.on("assignments", (ev) => {
    a.events.push(ev);
    if (ev.type === "complete") {
      a.tasks.clear();
      a.secrets.clear();
    }
    for (const t of ev.tasks) a.tasks.set(t.id, t.desiredState);
    for (const id of ev.removedTasks) a.tasks.delete(id);
    for (const s of ev.secrets) a.secrets.set(s.id, Buffer.from(s.spec!.data).toString());
    for (const id of ev.removedSecrets) a.secrets.delete(id);
  });
  a.session.start();
  cleanups.push(() => a.session.stop().catch(() => {}));
  return a;
}

const status = (taskId: string, state: TaskState): TaskStatusUpdate => ({ taskId, status: TaskStatus.fromPartial({ state, timestampUnixMs: 9 }) });

describe("assignments over gRPC", () => {
  it("an agent gets its complete set with the secrets' values, then the changes; never another node's tasks", async () => {
    const h = await setup(["n1", "n2"]);
    await addSecretsAndConfigs(h.store, ["s1"]);
    await addTasks(h.store, [
      { id: "t1", nodeId: "n1", secrets: ["s1"] },
      { id: "t2", nodeId: "n1" },
      { id: "u1", nodeId: "n2", secrets: ["s1"] },
    ]);
    const a = startAgent("n1", h.addr, 1);
    await waitFor("the complete set", () => a.events.length === 1);
    expect(a.events[0]!.type).toBe("complete");
    expect([...a.tasks.keys()].sort()).toEqual(["t1", "t2"]);
    expect(a.secrets).toEqual(new Map([["s1", "value of s1"]]));

    await addTasks(h.store, [
      { id: "t3", nodeId: "n1" },
      { id: "u2", nodeId: "n2" },
    ]);
    await waitFor("t3", () => a.tasks.has("t3"));
    await changeTask(h.store, "t2", (t) => (t.desiredState = TaskState.TASK_STATE_SHUTDOWN));
    await waitFor("t2 to be shut down", () => a.tasks.get("t2") === TaskState.TASK_STATE_SHUTDOWN);
    await removeTask(h.store, "t1");
    await waitFor("t1 and s1 to go", () => !a.tasks.has("t1") && a.secrets.size === 0);
    expect(a.events.slice(1).every((e) => e.type === "incremental")).toBe(true);
    expect(a.events.flatMap((e) => [...e.tasks.map((t) => t.id), ...e.removedTasks]).filter((id) => id.startsWith("u"))).toEqual([]);
    expect([...a.tasks.keys()].sort()).toEqual(["t2", "t3"]);
  });

  it("200 agents with 5 tasks each get their complete sets", async () => {
    const nodes = Array.from({ length: 200 }, (_, i) => `n${i}`);
    const h = await setup(nodes);
    await addTasks(
      h.store,
      nodes.flatMap((n) => Array.from({ length: 5 }, (_, j) => ({ id: `${n}.t${j}`, nodeId: n }))),
    );
    const agents = nodes.map((n, i) => startAgent(n, h.addr, 100 + i));
    await waitFor("every complete set", () => agents.every((a) => a.events.length > 0), 30_000);
    for (const [i, a] of agents.entries()) {
      expect(a.events[0]!.type).toBe("complete");
      expect([...a.tasks.keys()].sort()).toEqual(Array.from({ length: 5 }, (_, j) => `n${i}.t${j}`));
    }
    expect(h.d.sessionNodes()).toHaveLength(200);
  });
});

describe("task status over gRPC", () => {
  it("reports of many agents land in few proposals; a lower state is dropped", async () => {
    const nodes = Array.from({ length: 10 }, (_, i) => `n${i}`);
    const h = await setup(nodes);
    await addTasks(
      h.store,
      nodes.flatMap((n) => Array.from({ length: 5 }, (_, j) => ({ id: `${n}.t${j}`, nodeId: n }))),
    );
    const agents = nodes.map((n, i) => startAgent(n, h.addr, 10 + i));
    await waitFor("every complete set", () => agents.every((a) => a.events.length > 0));

    // Hold the first proposal until every agent's report has reached the dispatcher: the others
    // queue behind it and go in one more proposal.
    const held: (() => void)[] = [];
    let holding = true;
    h.store.setProposer({
      propose: (data) => {
        if (!holding) return h.proposals.propose(data);
        return new Promise((resolve, reject) => held.push(() => h.proposals.propose(data).then(resolve, reject)));
      },
    } satisfies Proposer);
    const before = h.proposals.count;
    const reports = agents.map((a, i) => a.session.reportStatus(Array.from({ length: 5 }, (_, j) => status(`n${i}.t${j}`, TaskState.TASK_STATE_RUNNING))));
    await waitFor("every report to arrive", () => h.calls() === 10 && held.length === 1);
    holding = false;
    held.shift()!();
    await Promise.all(reports);
    expect(h.proposals.count - before).toBe(2);
    for (const n of nodes) for (let j = 0; j < 5; j++) expect(taskOf(h.store, `${n}.t${j}`)!.status).toMatchObject({ state: TaskState.TASK_STATE_RUNNING, appliedBy: "m1" });

    const version = h.store.version;
    await agents[0]!.session.reportStatus([status("n0.t0", TaskState.TASK_STATE_PREPARING)]);
    expect(taskOf(h.store, "n0.t0")!.status!.state).toBe(TaskState.TASK_STATE_RUNNING);
    expect(h.store.version).toBe(version);
  });

  it("a report naming another node's task is refused and nothing of it is written", async () => {
    const h = await setup(["n1", "n2"]);
    await addTasks(h.store, [
      { id: "t1", nodeId: "n1" },
      { id: "u1", nodeId: "n2" },
    ]);
    const a = startAgent("n1", h.addr, 1);
    await waitFor("the complete set", () => a.events.length === 1);
    const version = h.store.version;
    await expect(a.session.reportStatus([status("t1", TaskState.TASK_STATE_RUNNING), status("u1", TaskState.TASK_STATE_RUNNING)])).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: "node n1 cannot update the status of tasks not assigned to it: u1; nothing was written",
    });
    expect(h.store.version).toBe(version);
    expect(taskOf(h.store, "t1")!.status!.state).toBe(TaskState.TASK_STATE_ASSIGNED);
    expect(a.sessions).toHaveLength(1); // the session carries on
  });

  it("after a reconnect the agent re-reports, and what it reported meanwhile gets through", async () => {
    const h = await setup(["n1"]);
    await addTasks(h.store, [
      { id: "t1", nodeId: "n1" },
      { id: "t2", nodeId: "n1" },
    ]);
    const a = startAgent("n1", h.addr, 1);
    // The worker: the latest status of each task, all of it reported again after every (re)connect.
    const observed = new Map<string, TaskState>();
    const report = (id: string, state: TaskState): Promise<void> => {
      observed.set(id, state);
      return a.session.reportStatus([status(id, state)]);
    };
    a.session.on("reconnected", () => void a.session.reportStatus([...observed].map(([id, s]) => status(id, s))).catch(() => {}));
    await waitFor("the complete set", () => a.events.length === 1);
    await report("t1", TaskState.TASK_STATE_RUNNING);
    expect(taskOf(h.store, "t1")!.status!.state).toBe(TaskState.TASK_STATE_RUNNING);

    // Leadership moves away and back: the session ends; t2 starts meanwhile.
    h.d.stop();
    const t2 = report("t2", TaskState.TASK_STATE_RUNNING);
    h.start();
    await t2;
    await waitFor("a second session", () => a.sessions.length === 2 && a.events.length === 2);
    expect(a.reconnects).toBe(2);
    expect(a.events[1]!.type).toBe("complete");
    expect(taskOf(h.store, "t2")!.status!.state).toBe(TaskState.TASK_STATE_RUNNING);
    // t1 was re-reported after the reconnect (and dropped as already stored).
    await waitFor("t1 re-reported", () => h.updates.filter((u) => u.taskId === "t1").length >= 2);
    expect(a.session.queuedStatuses).toBe(0);
  });
});
