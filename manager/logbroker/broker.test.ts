// The broker over a real store with fake clients, listeners and publishers, on a manual clock: fan-out
// to the nodes of a selection, relay order, the end of a subscription without follow, follow picking
// up new nodes, client cancel, bounded waits for missing nodes, and refusals.
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, turn, until } from "../../agent/executor/sim/index.js";
import { LogStream, type PublishLogsMessage, type SubscribeLogsRequest } from "../../proto/gen/logs.js";
import { NodeState, TaskState } from "../../proto/gen/types.js";
import type { MemoryStore } from "../store/index.js";
import { LogBroker } from "./broker.js";
import { LogBrokerErrorCode } from "./errors.js";
import { Channel, Client, FakeListener, addNode, addService, addTask, line, newStore } from "./test-support.js";

const WAIT_MS = 1_000;
const IDLE_MS = 5_000;
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

interface Setup {
  store: MemoryStore;
  broker: LogBroker;
  clock: ManualClock;
}

/** A running broker over a store with service svc1 ("web") on n1 (t1, t2) and n2 (t3), service svc2 on n3. */
async function setup(): Promise<Setup> {
  const store = newStore();
  for (const n of ["n1", "n2", "n3"]) await addNode(store, n);
  await addService(store, "svc1", "web");
  await addService(store, "svc2", "db");
  await addTask(store, "t1", "svc1", "n1", TaskState.TASK_STATE_RUNNING);
  await addTask(store, "t2", "svc1", "n1", TaskState.TASK_STATE_COMPLETE);
  await addTask(store, "t3", "svc1", "n2", TaskState.TASK_STATE_RUNNING);
  await addTask(store, "t9", "svc2", "n3", TaskState.TASK_STATE_RUNNING);
  const clock = new ManualClock();
  let seq = 0;
  const broker = new LogBroker({ store, timers: clock, newId: () => `sub${++seq}`, listenerWaitMs: WAIT_MS, idleTimeoutMs: IDLE_MS });
  broker.start();
  cleanups.push(() => broker.stop());
  return { store, broker, clock };
}

function listen(broker: LogBroker, nodeId: string): FakeListener {
  const l = new FakeListener();
  broker.listen(nodeId, l.send, l.abort.signal).catch(() => undefined);
  cleanups.push(() => l.abort.abort());
  return l;
}

function request(selector: Partial<SubscribeLogsRequest["selector"]>, options: Partial<NonNullable<SubscribeLogsRequest["options"]>> = {}): SubscribeLogsRequest {
  return {
    selector: { serviceIds: [], nodeIds: [], taskIds: [], ...selector },
    options: { streams: [], follow: false, tail: -1, sinceUnixMs: 0, ...options },
  };
}

/** A subscription of a fake client: its promise, whether it ended, and how to cancel it. */
function subscribe(broker: LogBroker, req: SubscribeLogsRequest): { client: Client; result: Promise<void>; ended: () => boolean; cancel(): void } {
  const client = new Client();
  const abort = new AbortController();
  let ended = false;
  const result = broker.subscribe(req, client.send, abort.signal).finally(() => (ended = true));
  result.catch(() => undefined);
  cleanups.push(() => abort.abort());
  return { client, result, ended: () => ended, cancel: () => abort.abort() };
}

/** A node's PublishLogs stream. */
function publisher(broker: LogBroker, nodeId: string): { stream: Channel<PublishLogsMessage>; result: Promise<void> } {
  const stream = new Channel<PublishLogsMessage>();
  const result = broker.publish(nodeId, stream);
  result.catch(() => undefined);
  cleanups.push(() => stream.end());
  return { stream, result };
}

function msg(subscriptionId: string, messages: PublishLogsMessage["messages"], close = false, error = ""): PublishLogsMessage {
  return { subscriptionId, messages, close, error };
}

describe("LogBroker", () => {
  it("sends the resolved selector to the nodes of the selected tasks and relays what they publish, in order, until every node closed", async () => {
    const { broker } = await setup();
    const [l1, l2, l3] = [listen(broker, "n1"), listen(broker, "n2"), listen(broker, "n3")];
    const sub = subscribe(broker, request({ serviceIds: ["web"] }, { tail: 10, streams: [LogStream.LOG_STREAM_STDERR] }));
    await turn();
    expect(l1.opened).toEqual([
      {
        id: "sub1",
        selector: { serviceIds: ["svc1"], nodeIds: [], taskIds: [] },
        options: { streams: [LogStream.LOG_STREAM_STDERR], follow: false, tail: 10, sinceUnixMs: 0 },
        close: false,
      },
    ]);
    expect(l2.opened.map((m) => m.id)).toEqual(["sub1"]);
    expect(l3.messages).toEqual([]); // svc2's node is not asked

    const p1 = publisher(broker, "n1");
    const p2 = publisher(broker, "n2");
    p1.stream.push(msg("sub1", [line("n1", "t1", "a1"), line("n1", "t2", "b1")]));
    p2.stream.push(msg("sub1", [line("n2", "t3", "c1")]));
    p1.stream.push(msg("sub1", [line("n1", "t1", "a2")], true));
    await until(() => sub.client.lines.length === 4);
    expect(sub.ended()).toBe(false); // n2 has not closed
    p2.stream.push(msg("sub1", [line("n2", "t3", "c2")], true));
    await sub.result;
    expect(sub.client.lines.filter((l) => l.startsWith("n1/t1"))).toEqual(["n1/t1 a1", "n1/t1 a2"]);
    expect(sub.client.lines.filter((l) => l.startsWith("n2/"))).toEqual(["n2/t3 c1", "n2/t3 c2"]);
    expect(sub.client.lines).toHaveLength(5);
    expect(sub.client.warnings).toEqual([]);
    expect(l1.closed).toEqual([]); // completed: nothing to close
    expect(broker.subscriptionCount).toBe(0);
  });

  it("selects by task and node too, and ends at once when no node runs a selected task", async () => {
    const { broker, store } = await setup();
    const [l1, l2, l3] = [listen(broker, "n1"), listen(broker, "n2"), listen(broker, "n3")];
    subscribe(broker, request({ taskIds: ["t3"], nodeIds: ["n3"] }));
    await turn();
    expect([l1.opened.length, l2.opened.length, l3.opened.length]).toEqual([0, 1, 1]);
    await addTask(store, "t5", "svc1", "", TaskState.TASK_STATE_PENDING); // not scheduled
    const none = subscribe(broker, request({ taskIds: ["t5"] }));
    await none.result;
    expect(none.client.lines).toEqual([]);
  });

  it("holds a publisher while the client drains, without counting that as the node's silence", async () => {
    const { broker, clock } = await setup();
    listen(broker, "n2");
    let release!: () => void;
    const received: string[] = [];
    const abort = new AbortController();
    const done = broker.subscribe(
      request({ taskIds: ["t3"] }),
      (m) => {
        received.push(...m.messages.map((x) => x.data.toString().trim()), ...m.warnings);
        return new Promise<void>((r) => (release = r));
      },
      abort.signal,
    );
    await turn();
    const p = publisher(broker, "n2");
    p.stream.push(msg("sub1", [line("n2", "t3", "one")]));
    p.stream.push(msg("sub1", [line("n2", "t3", "two")], true));
    await until(() => received.length === 1);
    for (let i = 0; i < 5; i++) await turn();
    expect(received).toEqual(["one"]); // "two" waits for the drain
    clock.advance(IDLE_MS * 2);
    release();
    await until(() => received.length === 2);
    release();
    await done;
    expect(received).toEqual(["one", "two"]); // no warning
  });

  it("with follow, asks nodes that get a selected task later, and closes every node's part when the client goes away", async () => {
    const { broker, store } = await setup();
    const [l1, l2, l3] = [listen(broker, "n1"), listen(broker, "n2"), listen(broker, "n3")];
    const sub = subscribe(broker, request({ serviceIds: ["svc1"] }, { follow: true }));
    await turn();
    const p1 = publisher(broker, "n1");
    p1.stream.push(msg("sub1", [line("n1", "t1", "x")]));
    await until(() => sub.client.lines.length === 1);
    expect(l3.opened).toEqual([]);
    await addTask(store, "t7", "svc1", "n3"); // scheduled on a new node
    await until(() => l3.opened.length === 1);
    expect(l3.opened[0]!.options?.follow).toBe(true);
    await addTask(store, "t8", "svc1", "n1"); // a node already asked is not asked twice
    await turn();
    expect(l1.opened).toHaveLength(1);
    expect(sub.ended()).toBe(false);
    sub.cancel();
    await sub.result;
    expect([l1.closed, l2.closed, l3.closed]).toEqual([["sub1"], ["sub1"], ["sub1"]]);
    // The node's late lines are refused: its publisher stops.
    p1.stream.push(msg("sub1", [line("n1", "t1", "late")]));
    await expect(p1.result).rejects.toMatchObject({ code: LogBrokerErrorCode.NotFound });
  });

  it("warns at once about a down node, and after the listener wait about a node without a listener", async () => {
    const { broker, store, clock } = await setup();
    await addNode(store, "n4", NodeState.NODE_STATE_DOWN);
    await addTask(store, "t4", "svc1", "n4", TaskState.TASK_STATE_RUNNING);
    listen(broker, "n1");
    const sub = subscribe(broker, request({ serviceIds: ["svc1"] }));
    await turn();
    expect(sub.client.warnings).toEqual(["node n4 is down: its logs are missing"]);
    publisher(broker, "n1").stream.push(msg("sub1", [], true));
    await until(() => clock.pending === 1); // n2's listener wait
    expect(sub.ended()).toBe(false);
    clock.advance(WAIT_MS - 1);
    await turn();
    expect(sub.ended()).toBe(false);
    clock.advance(1);
    await sub.result;
    expect(sub.client.warnings).toEqual([
      "node n4 is down: its logs are missing",
      "node n2 is not connected to the leader (no log listener within 1 s): its logs are missing",
    ]);
  });

  it("asks a node whose listener comes within the wait, without a warning", async () => {
    const { broker, clock } = await setup();
    const sub = subscribe(broker, request({ taskIds: ["t3"] }));
    await turn();
    clock.advance(WAIT_MS / 2);
    const l2 = listen(broker, "n2");
    expect(l2.opened.map((m) => m.id)).toEqual(["sub1"]);
    clock.advance(WAIT_MS);
    publisher(broker, "n2").stream.push(msg("sub1", [line("n2", "t3", "late but there")], true));
    await sub.result;
    expect(sub.client).toMatchObject({ lines: ["n2/t3 late but there"], warnings: [] });
  });

  it("without follow, gives up on a node that goes silent or disconnects, and reports a node's engine error", async () => {
    const { broker, clock } = await setup();
    const [l1, l2, l3] = [listen(broker, "n1"), listen(broker, "n2"), listen(broker, "n3")];
    const sub = subscribe(broker, request({ serviceIds: ["svc1", "svc2"] }));
    await turn();
    publisher(broker, "n3").stream.push(msg("sub1", [], true, "Error response from daemon: configured logging driver does not support reading"));
    await until(() => sub.client.warnings.length === 1);
    l2.abort.abort();
    await until(() => sub.client.warnings.length === 2);
    expect(sub.ended()).toBe(false); // n1 still counts
    clock.advance(IDLE_MS);
    await sub.result;
    expect(sub.client.warnings).toEqual([
      "node n3 could not read all its logs: Error response from daemon: configured logging driver does not support reading",
      "node n2 disconnected while publishing: its logs may be incomplete",
      "node n1 sent no logs for 5 s: its logs may be incomplete",
    ]);
    expect(l1.closed).toEqual(["sub1"]); // told to stop
    expect(l3.closed).toEqual([]);
  });

  it("with follow, asks a node again for new lines only when its listener comes back", async () => {
    const { broker } = await setup();
    const first = listen(broker, "n2");
    subscribe(broker, request({ taskIds: ["t3"] }, { follow: true, tail: 5 }));
    await turn();
    expect(first.opened[0]!.options?.tail).toBe(5);
    first.abort.abort();
    const again = listen(broker, "n2");
    expect(again.opened).toHaveLength(1);
    expect(again.opened[0]!.options).toMatchObject({ follow: true, tail: 0 });
  });

  it("refuses bad selectors and options in docker's words", async () => {
    const { broker } = await setup();
    const signal = new AbortController().signal;
    const refused = (req: SubscribeLogsRequest) => broker.subscribe(req, () => undefined, signal);
    await expect(refused(request({}))).rejects.toMatchObject({ code: LogBrokerErrorCode.InvalidArgument, message: expect.stringContaining("selector: empty") });
    await expect(refused({ selector: undefined, options: undefined })).rejects.toMatchObject({ code: LogBrokerErrorCode.InvalidArgument });
    await expect(refused(request({ serviceIds: ["nope"] }))).rejects.toMatchObject({ code: LogBrokerErrorCode.NotFound, message: "no such service: nope" });
    await expect(refused(request({ taskIds: ["t3", "gone"] }))).rejects.toMatchObject({ code: LogBrokerErrorCode.NotFound, message: "no such task: gone" });
    await expect(refused(request({ nodeIds: ["n7"] }))).rejects.toMatchObject({ code: LogBrokerErrorCode.NotFound, message: "no such node: n7" });
    await expect(refused(request({ taskIds: ["t3"] }, { streams: [7 as LogStream] }))).rejects.toMatchObject({
      code: LogBrokerErrorCode.InvalidArgument,
      message: expect.stringContaining("options.streams: 7"),
    });
    await expect(refused(request({ taskIds: ["t3"] }, { sinceUnixMs: -1 }))).rejects.toMatchObject({ code: LogBrokerErrorCode.InvalidArgument });
    expect(broker.subscriptionCount).toBe(0);
  });

  it("refuses publishing for a subscription a node was not asked for, or lines of another node", async () => {
    const { broker } = await setup();
    listen(broker, "n1");
    listen(broker, "n2");
    subscribe(broker, request({ taskIds: ["t1", "t3"] }));
    await turn();
    const stranger = publisher(broker, "n3");
    stranger.stream.push(msg("sub1", [line("n3", "t9", "x")]));
    await expect(stranger.result).rejects.toMatchObject({ code: LogBrokerErrorCode.PermissionDenied, message: "node n3 was not asked to publish for subscription sub1" });
    const forger = publisher(broker, "n1");
    forger.stream.push(msg("sub1", [line("n2", "t3", "x")]));
    await expect(forger.result).rejects.toMatchObject({ code: LogBrokerErrorCode.PermissionDenied, message: 'node n1 cannot publish logs of node "n2"' });
    const late = publisher(broker, "n1");
    late.stream.push(msg("sub9", []));
    await expect(late.result).rejects.toMatchObject({ code: LogBrokerErrorCode.NotFound });
  });

  it("ends subscriptions and listeners with UNAVAILABLE when it stops, and refuses new ones", async () => {
    const { broker } = await setup();
    const l = new FakeListener();
    const listening = broker.listen("n2", l.send, l.abort.signal);
    const sub = subscribe(broker, request({ taskIds: ["t3"] }, { follow: true }));
    await turn();
    broker.stop();
    await expect(sub.result).rejects.toMatchObject({ code: LogBrokerErrorCode.Unavailable });
    await expect(listening).rejects.toMatchObject({ code: LogBrokerErrorCode.Unavailable });
    await expect(broker.subscribe(request({ taskIds: ["t3"] }), () => undefined, new AbortController().signal)).rejects.toMatchObject({
      code: LogBrokerErrorCode.Unavailable,
    });
    await expect(broker.listen("n1", () => undefined, new AbortController().signal)).rejects.toThrow(/not running/);
  });

  it("replaces a node's listener with its newer one", async () => {
    const { broker } = await setup();
    const old = new FakeListener();
    const oldDone = broker.listen("n1", old.send, old.abort.signal);
    listen(broker, "n1");
    await expect(oldDone).rejects.toThrow(/replaced by a newer one/);
    expect(broker.listeningNodes()).toEqual(["n1"]);
  });
});
