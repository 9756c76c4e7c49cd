// AgentSession against a scripted Dispatcher server on 127.0.0.1 (the real dispatcher is exercised
// with this client in manager/dispatcher/grpc-adapter.test.ts).
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  AssignmentChangeAction,
  AssignmentsType,
  DispatcherService,
  type AssignmentChange,
  type AssignmentsMessage,
  type AssignmentsRequest,
  type DispatcherServer,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type ManagerPeer,
  type SessionMessage,
  type SessionRequest,
  type UpdateTaskStatusRequest,
} from "../../proto/gen/dispatcher.js";
import { Node, Secret, Task } from "../../proto/gen/objects.js";
import { NodeDescription, NodeRole, TaskState } from "../../proto/gen/types.js";
import { AgentSession } from "./agent-session.js";
import type { AssignmentsEvent } from "./assignments.js";

const insecure = grpc.credentials.createInsecure();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A scripted manager: what it answers is up to the test. */
interface FakeManager {
  addr: string;
  sessions: grpc.ServerWritableStream<SessionRequest, SessionMessage>[];
  beats: HeartbeatRequest[];
  /** The answer to the next heartbeat; default { periodMs: 10 }. */
  answer: () => Partial<grpc.StatusObject> | HeartbeatResponse;
  /** What to do with a new session; default: send one message. */
  onSession: (call: grpc.ServerWritableStream<SessionRequest, SessionMessage>) => void;
  assignmentCalls: grpc.ServerWritableStream<AssignmentsRequest, AssignmentsMessage>[];
  /** What to do with a new Assignments stream (already in assignmentCalls); default: nothing (it stays open). */
  onAssignments: (call: grpc.ServerWritableStream<AssignmentsRequest, AssignmentsMessage>) => void;
  statusCalls: UpdateTaskStatusRequest[];
  /** The error to answer an UpdateTaskStatus with, or null for success (the default). */
  statusAnswer: (req: UpdateTaskStatusRequest) => Partial<grpc.StatusObject> | null;
}

const message = (over: Partial<SessionMessage> = {}): SessionMessage => ({
  sessionId: "s1",
  node: Node.fromPartial({ id: "n1" }),
  managers: [],
  heartbeatPeriodMs: 100,
  networkBootstrapKeys: [],
  rootCa: Buffer.alloc(0),
  ...over,
});

async function fakeManager(): Promise<FakeManager> {
  const m: FakeManager = {
    addr: "",
    sessions: [],
    beats: [],
    answer: () => ({ periodMs: 10 }),
    onSession: (call) => call.write(message()),
    assignmentCalls: [],
    onAssignments: () => {},
    statusCalls: [],
    statusAnswer: () => null,
  };
  const impl: DispatcherServer = {
    session: (call) => {
      m.sessions.push(call);
      m.onSession(call);
    },
    heartbeat: (call, cb) => {
      m.beats.push(call.request);
      const a = m.answer();
      if ("code" in a) cb(a);
      else cb(null, a as HeartbeatResponse);
    },
    // Assignments streams stay open (and send nothing) unless a test says otherwise.
    assignments: (call) => {
      m.assignmentCalls.push(call);
      m.onAssignments(call);
    },
    updateTaskStatus: (call, cb) => {
      m.statusCalls.push(call.request);
      const a = m.statusAnswer(call.request);
      if (a) cb(a);
      else cb(null, {});
    },
  };
  const server = new grpc.Server();
  server.addService(DispatcherService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanups.push(() => server.forceShutdown());
  m.addr = `127.0.0.1:${port}`;
  return m;
}

function agent(
  managers: string[],
  extra: { rpcTimeoutMs?: number; random?: () => number; statusBatch?: { maxUpdates?: number } } = {},
) {
  let credentialCalls = 0;
  const events = {
    sessions: [] as [string, string][],
    nodes: [] as Node[],
    managers: [] as ManagerPeer[][],
    disconnects: [] as string[],
    reconnects: [] as string[],
    assignments: [] as AssignmentsEvent[],
  };
  const s = new AgentSession({
    managers,
    credentials: () => {
      credentialCalls++;
      return { credentials: insecure, channelOptions: {} };
    },
    describe: async () => NodeDescription.fromPartial({ hostname: "h1" }),
    random: () => 0.5,
    backoff: { initialMs: 2, maxMs: 20 },
    ...extra,
  });
  s.on("session", (id, addr) => events.sessions.push([id, addr]));
  s.on("node", (n) => events.nodes.push(n));
  s.on("managers", (p) => events.managers.push(p));
  s.on("disconnected", (r) => events.disconnects.push(r));
  s.on("reconnected", (id) => events.reconnects.push(id));
  s.on("assignments", (a) => events.assignments.push(a));
  s.start();
  cleanups.push(() => s.stop());
  return { s, events, credentialCalls: () => credentialCalls };
}

describe("AgentSession", () => {
  it("sends its description and beats at the period each answer names", async () => {
    const m = await fakeManager();
    const a = agent([m.addr]);
    await waitFor("a session", () => a.events.sessions.length === 1);
    expect(a.events.sessions[0]).toEqual(["s1", m.addr]);
    expect(m.sessions[0]!.request.description?.hostname).toBe("h1");
    expect(a.s.session).toEqual({ sessionId: "s1", manager: m.addr });
    // The message says 100 ms; the answers say 10 ms: many beats follow the first one quickly.
    await waitFor("5 beats", () => m.beats.length >= 5);
    expect(m.beats.every((b) => b.sessionId === "s1")).toBe(true);
  });

  it("emits the node from every message and the managers only when they change", async () => {
    const m = await fakeManager();
    const peers = [{ nodeId: "m1", addr: m.addr, leader: true }];
    m.onSession = (call) => {
      call.write(message({ managers: peers }));
      call.write(message({ managers: peers, node: Node.fromPartial({ id: "n1", role: NodeRole.NODE_ROLE_MANAGER }) }));
    };
    const a = agent([m.addr]);
    await waitFor("two node events", () => a.events.nodes.length === 2);
    expect(a.events.nodes[1]!.role).toBe(NodeRole.NODE_ROLE_MANAGER);
    expect(a.events.managers).toEqual([peers]);
  });

  it("after a failed heartbeat it closes the session and opens a new one, with fresh credentials, resuming the id", async () => {
    const m = await fakeManager();
    let failNext = true;
    m.answer = () => {
      if (failNext) {
        failNext = false;
        return { code: grpc.status.NOT_FOUND, details: "session s1 is not valid (reconnect)" };
      }
      return { periodMs: 10 };
    };
    const a = agent([m.addr]);
    await waitFor("a second session", () => a.events.sessions.length === 2);
    expect(a.events.disconnects[0]).toBe(`heartbeat to ${m.addr} failed: NOT_FOUND: session s1 is not valid (reconnect)`);
    expect(a.credentialCalls()).toBe(2);
    expect(m.sessions[1]!.request.sessionId).toBe("s1");
    await waitFor("the first stream to be closed", () => m.sessions[0]!.cancelled);
  });

  it("follows a redirect to the leader named in trailing metadata", async () => {
    const leader = await fakeManager();
    const follower = await fakeManager();
    follower.onSession = (call) => {
      const md = new grpc.Metadata();
      md.set("swarm-leader-addr", leader.addr);
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "not the leader", metadata: md });
    };
    const a = agent([follower.addr]);
    await waitFor("a session", () => a.events.sessions.length === 1);
    expect(a.events.sessions[0]![1]).toBe(leader.addr);
    expect(a.s.managerAddresses()).toEqual([follower.addr, leader.addr]);
  });

  it("stays with a just-elected leader whose dispatcher is starting, rather than moving to another manager", async () => {
    const starting = await fakeManager();
    const other = await fakeManager();
    let refusals = 0;
    const serve = starting.onSession;
    starting.onSession = (call) => {
      if (++refusals > 5) return serve(call);
      const md = new grpc.Metadata();
      md.set("swarm-leader-addr", starting.addr);
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "not the leader yet: its dispatcher is starting", metadata: md });
    };
    // random 0: of equally good managers, the first known (starting) is dialed first.
    const a = agent([starting.addr, other.addr], { random: () => 0 });
    await waitFor("a session", () => a.events.sessions.length === 1);
    expect(a.events.sessions[0]![1]).toBe(starting.addr);
    expect(refusals).toBe(6);
    expect(other.sessions).toHaveLength(0);
  });

  it("moves to another manager when the stream ends, preferring the last leader", async () => {
    const one = await fakeManager();
    const two = await fakeManager();
    const three = await fakeManager();
    // one names two as the leader.
    one.onSession = (call) =>
      call.write(
        message({
          managers: [
            { nodeId: "1", addr: one.addr, leader: false },
            { nodeId: "2", addr: two.addr, leader: true },
            { nodeId: "3", addr: three.addr, leader: false },
          ],
        }),
      );
    const a = agent([one.addr]);
    await waitFor("a session with one", () => a.events.sessions.length === 1);
    one.sessions[0]!.end();
    await waitFor("a session with two", () => a.events.sessions.length === 2);
    expect(a.events.sessions[1]![1]).toBe(two.addr);
    expect(a.events.disconnects[0]).toBe(`session with ${one.addr} ended`);
  });

  it("gives up on a manager that sends no first message in time", async () => {
    const silent = await fakeManager();
    silent.onSession = () => {};
    const other = await fakeManager();
    // random 0: of equally good managers, the first known (silent) is dialed first.
    const a = agent([silent.addr, other.addr], { rpcTimeoutMs: 50, random: () => 0 });
    await waitFor("a session", () => a.events.sessions.length === 1);
    expect(a.events.sessions[0]![1]).toBe(other.addr);
    expect(a.events.disconnects[0]).toBe(`no session message from ${silent.addr} within 50 ms`);
    await waitFor("the silent stream to be closed", () => silent.sessions[0]!.cancelled);
  });

  it("stop() closes the stream and dials no more", async () => {
    const m = await fakeManager();
    const a = agent([m.addr]);
    await waitFor("a session", () => a.events.sessions.length === 1);
    await a.s.stop();
    await waitFor("the stream to be cancelled", () => m.sessions[0]!.cancelled);
    expect(a.s.session).toBeNull();
    expect(m.sessions).toHaveLength(1);
    expect(a.events.disconnects).toEqual([]);
  });
});

const taskChange = (id: string, action = AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_UPDATE): AssignmentChange => ({
  assignment: { item: { $case: "task", task: Task.fromPartial({ id, desiredState: TaskState.TASK_STATE_RUNNING }) } },
  action,
});
const secretChange = (id: string, action = AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_UPDATE): AssignmentChange => ({
  assignment: { item: { $case: "secret", secret: Secret.fromPartial({ id, spec: { data: Buffer.from("v") } }) } },
  action,
});
const complete = (resultsIn: string, changes: AssignmentChange[]): AssignmentsMessage => ({
  type: AssignmentsType.ASSIGNMENTS_TYPE_COMPLETE,
  appliesTo: "",
  resultsIn,
  changes,
});
const incremental = (appliesTo: string, resultsIn: string, changes: AssignmentChange[]): AssignmentsMessage => ({
  type: AssignmentsType.ASSIGNMENTS_TYPE_INCREMENTAL,
  appliesTo,
  resultsIn,
  changes,
});
const running = (taskId: string, state = TaskState.TASK_STATE_RUNNING) => ({ taskId, status: { timestampUnixMs: 1, state, message: "", err: "", container: undefined, portStatus: undefined, appliedBy: "", appliedAtUnixMs: 0 } });

describe("AgentSession assignments", () => {
  it("opens Assignments with the session id and emits the complete set, then the changes", async () => {
    const m = await fakeManager();
    m.onAssignments = (call) => {
      call.write(complete("a.1", [secretChange("s1"), taskChange("t1"), taskChange("t2")]));
      call.write(
        incremental("a.1", "a.2", [
          taskChange("t3"),
          taskChange("t1", AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_REMOVE),
          secretChange("s1", AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_REMOVE),
        ]),
      );
    };
    const a = agent([m.addr]);
    await waitFor("two assignments events", () => a.events.assignments.length === 2);
    expect(m.assignmentCalls[0]!.request.sessionId).toBe("s1");
    const [first, second] = a.events.assignments;
    expect(first!.type).toBe("complete");
    expect(first!.tasks.map((t) => t.id)).toEqual(["t1", "t2"]);
    expect(first!.secrets.map((x) => [x.id, Buffer.from(x.spec!.data).toString()])).toEqual([["s1", "v"]]);
    expect(second).toMatchObject({ type: "incremental", removedTasks: ["t1"], removedSecrets: ["s1"], secrets: [], configs: [] });
    expect(second!.tasks.map((t) => t.id)).toEqual(["t3"]);
    expect(a.events.reconnects).toEqual(["s1"]);
  });

  it("reopens the stream for a complete set when an incremental message does not follow on", async () => {
    const m = await fakeManager();
    m.onAssignments = (call) => {
      if (m.assignmentCalls.length === 1) {
        call.write(complete("a.1", [taskChange("t1")]));
        call.write(incremental("a.7", "a.8", [taskChange("t2")])); // a.2 … a.7 went missing
      } else {
        call.write(complete("b.1", [taskChange("t1"), taskChange("t2")]));
      }
    };
    const a = agent([m.addr]);
    await waitFor("the second complete set", () => a.events.assignments.length === 2);
    expect(a.events.assignments.map((e) => e.type)).toEqual(["complete", "complete"]);
    expect(m.assignmentCalls).toHaveLength(2);
    expect(a.s.assignmentStreamsOpened).toBe(2);
    await waitFor("the first stream to be cancelled", () => m.assignmentCalls[0]!.cancelled);
    expect(a.events.sessions).toHaveLength(1); // the session itself carried on
  });

  it("a failed Assignments stream ends the session; the next one opens a new stream", async () => {
    const m = await fakeManager();
    m.onAssignments = (call) => {
      if (m.assignmentCalls.length === 1) call.emit("error", { code: grpc.status.NOT_FOUND, details: "session s1 of node n1 is not valid (reconnect)" });
      else call.write(complete("b.1", []));
    };
    const a = agent([m.addr]);
    await waitFor("a complete set on the second session", () => a.events.assignments.length === 1);
    expect(a.events.disconnects[0]).toBe(`assignments from ${m.addr} failed: NOT_FOUND: session s1 of node n1 is not valid (reconnect)`);
    expect(a.events.reconnects).toHaveLength(2);
  });
});

describe("AgentSession status reports", () => {
  it("sends statuses in batches of at most maxUpdates, the latest per task", async () => {
    const m = await fakeManager();
    const a = agent([m.addr], { statusBatch: { maxUpdates: 3 } });
    await waitFor("a session", () => a.events.sessions.length === 1);
    const first = a.s.reportStatus([running("t1", TaskState.TASK_STATE_PREPARING), running("t2"), running("t3"), running("t4")]);
    // A lower state queued later does not replace a higher one; a higher one does.
    const second = a.s.reportStatus([running("t5"), running("t6"), running("t7")]);
    await Promise.all([first, second]);
    const sizes = m.statusCalls.map((c) => c.updates.length);
    expect(sizes.reduce((x, y) => x + y, 0)).toBe(7);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
    expect(m.statusCalls.every((c) => c.sessionId === "s1")).toBe(true);

    m.statusCalls.length = 0;
    const later = Promise.all([
      a.s.reportStatus([running("t8", TaskState.TASK_STATE_RUNNING)]),
      a.s.reportStatus([running("t8", TaskState.TASK_STATE_STARTING)]),
      a.s.reportStatus([running("t9", TaskState.TASK_STATE_STARTING)]),
      a.s.reportStatus([running("t9", TaskState.TASK_STATE_FAILED)]),
    ]);
    await later;
    const sent = m.statusCalls.flatMap((c) => c.updates).map((u) => [u.taskId, u.status!.state]);
    expect(sent).toEqual([
      ["t8", TaskState.TASK_STATE_RUNNING],
      ["t9", TaskState.TASK_STATE_FAILED],
    ]);
  });

  it("keeps statuses the manager did not take and sends them over the next session; the worker is asked to re-report", async () => {
    const m = await fakeManager();
    let n = 0;
    m.onSession = (call) => call.write(message({ sessionId: `s${++n}` }));
    // The first session's manager fails every report, then its stream ends.
    m.statusAnswer = (req) => {
      if (req.sessionId !== "s1") return null;
      m.sessions[0]!.end();
      return { code: grpc.status.UNAVAILABLE, details: "dispatcher stopped: leadership moved" };
    };
    const a = agent([m.addr]);
    await waitFor("a session", () => a.events.sessions.length === 1);
    await a.s.reportStatus([running("t1"), running("t2")]);
    expect(a.events.reconnects).toEqual(["s1", "s2"]);
    const delivered = m.statusCalls.filter((c) => c.sessionId === "s2").flatMap((c) => c.updates.map((u) => u.taskId));
    expect(delivered.sort()).toEqual(["t1", "t2"]);
    expect(m.statusCalls.some((c) => c.sessionId === "s1")).toBe(true);
    expect(a.s.queuedStatuses).toBe(0);
  });

  it("a refused report is rejected and not retried", async () => {
    const m = await fakeManager();
    m.statusAnswer = () => ({ code: grpc.status.PERMISSION_DENIED, details: "node n1 cannot update the status of tasks not assigned to it: t9" });
    const a = agent([m.addr]);
    await waitFor("a session", () => a.events.sessions.length === 1);
    await expect(a.s.reportStatus([running("t9")])).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(m.statusCalls).toHaveLength(1);
    expect(a.s.queuedStatuses).toBe(0);
  });

  it("stop() rejects the statuses not sent yet", async () => {
    const m = await fakeManager();
    m.onSession = () => {}; // no session: nothing can be sent
    const a = agent([m.addr]);
    const p = a.s.reportStatus([running("t1")]);
    await a.s.stop();
    await expect(p).rejects.toThrow("the agent session stopped");
  });
});
