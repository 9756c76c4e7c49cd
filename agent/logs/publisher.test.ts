// The publisher over real gRPC on 127.0.0.1 against a scripted LogBroker server: it listens while the
// session is up, publishes a subscription's lines and closes it, opens the listener again after a
// failure, stops a subscription the broker closes, and lets go when the session is lost.
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  LogBrokerService,
  type LogBrokerServer,
  type PublishLogsMessage,
  type SubscriptionMessage,
} from "../../proto/gen/logs.js";
import { Task } from "../../proto/gen/objects.js";
import { TaskState, type TaskStatus } from "../../proto/gen/types.js";
import { ManualClock, SimExecutor, until } from "../executor/sim/index.js";
import type { AgentSessionEvents } from "../session/index.js";
import { LogPublisher } from "./publisher.js";

const NODE = "n1";
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A LogBroker server whose listeners the test drives. */
class ScriptedBroker {
  readonly listeners: grpc.ServerWritableStream<unknown, SubscriptionMessage>[] = [];
  readonly published: PublishLogsMessage[] = [];
  /** Streams that ended (the publisher half-closed them). */
  publishStreamsEnded = 0;
  listenCalls = 0;
  /** Refuse this many ListenSubscriptions calls first. */
  refuse = 0;

  implementation(): LogBrokerServer {
    return {
      listenSubscriptions: (call) => {
        this.listenCalls++;
        if (this.refuse > 0) {
          this.refuse--;
          return void call.emit("error", { code: grpc.status.UNAVAILABLE, details: "log broker is starting" });
        }
        call.sendMetadata(new grpc.Metadata());
        this.listeners.push(call);
      },
      publishLogs: (call, callback) => {
        call.on("data", (m: PublishLogsMessage) => this.published.push(m));
        call.on("end", () => {
          this.publishStreamsEnded++;
          callback(null, {});
        });
      },
    };
  }

  get lines(): string[] {
    return this.published.flatMap((m) => m.messages.map((l) => `${l.context?.taskId} ${l.data.toString().trimEnd()}`));
  }

  send(msg: SubscriptionMessage): void {
    this.listeners.at(-1)!.write(msg);
  }
}

async function serve(broker: ScriptedBroker): Promise<string> {
  const server = new grpc.Server();
  server.addService(LogBrokerService, broker.implementation());
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  cleanups.push(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

function running(): TaskStatus {
  return { timestampUnixMs: 0, state: TaskState.TASK_STATE_RUNNING, message: "", err: "", container: undefined, portStatus: undefined, appliedBy: "", appliedAtUnixMs: 0 };
}

/** A publisher on a fake session and worker, with task "a" of svc1 running on the sim executor. */
async function setup(): Promise<{ session: EventEmitter<AgentSessionEvents>; publisher: LogPublisher; sim: SimExecutor }> {
  const session = new EventEmitter<AgentSessionEvents>();
  const worker = Object.assign(new EventEmitter<{ status: [taskId: string, status: TaskStatus] }>(), { status: (): TaskStatus | undefined => undefined });
  const sim = new SimExecutor({ clock: new ManualClock(1_700_000_000_000) });
  const publisher = new LogPublisher({
    nodeId: NODE,
    reader: sim,
    session,
    worker,
    credentials: () => ({ credentials: grpc.credentials.createInsecure(), channelOptions: {} }),
    backoff: { initialMs: 1, maxMs: 5 },
    random: () => 0.5,
  });
  publisher.start();
  cleanups.push(() => publisher.stop());
  const a = Task.fromPartial({ id: "a", serviceId: "svc1", nodeId: NODE, spec: { runtime: { $case: "container", container: { image: "busybox" } } } });
  session.emit("assignments", { type: "complete", tasks: [a], removedTasks: [], secrets: [], removedSecrets: [], configs: [], removedConfigs: [] });
  const c = sim.controller(a, { secrets: [], configs: [] });
  await c.prepare(new AbortController().signal);
  await c.start();
  worker.emit("status", "a", running());
  return { session, publisher, sim };
}

function subscription(id: string, follow = false): SubscriptionMessage {
  return { id, selector: { serviceIds: ["svc1"], nodeIds: [], taskIds: [] }, options: { streams: [], follow, tail: -1, sinceUnixMs: 0 }, close: false };
}

describe("LogPublisher", () => {
  it("listens at the session's manager and publishes a subscription's lines, then closes it", async () => {
    const broker = new ScriptedBroker();
    const addr = await serve(broker);
    const { session, publisher } = await setup();
    expect(publisher.manager).toBeNull();
    session.emit("session", "s1", addr);
    expect(publisher.manager).toBe(addr);
    await until(() => broker.listeners.length === 1);
    broker.send(subscription("sub1"));
    await until(() => broker.publishStreamsEnded === 1);
    expect(broker.lines).toEqual(["a task a line 1", "a task a line 2", "a task a line 3"]);
    expect(broker.published.at(-1)).toEqual({ subscriptionId: "sub1", messages: [], close: true, error: "" });
  });

  it("opens the listener again after a refusal, while the session lasts", async () => {
    const broker = new ScriptedBroker();
    broker.refuse = 2;
    const addr = await serve(broker);
    const { session } = await setup();
    session.emit("session", "s1", addr);
    await until(() => broker.listeners.length === 1);
    expect(broker.listenCalls).toBe(3);
    broker.listeners[0]!.emit("error", { code: grpc.status.UNAVAILABLE, details: "leadership moved" });
    await until(() => broker.listeners.length === 2);
  });

  it("stops a following subscription the broker closes, and lets go of the listener when the session is lost", async () => {
    const broker = new ScriptedBroker();
    const addr = await serve(broker);
    const { session, publisher } = await setup();
    session.emit("session", "s1", addr);
    await until(() => broker.listeners.length === 1);
    broker.send(subscription("sub1", true));
    await until(() => broker.lines.length === 3 && publisher.activeSubscriptions === 1);
    broker.send({ id: "sub1", selector: undefined, options: undefined, close: true });
    await until(() => broker.publishStreamsEnded === 1 && publisher.activeSubscriptions === 0);
    expect(broker.published.some((m) => m.close)).toBe(false);
    const listener = broker.listeners[0]!;
    let cancelled = false;
    listener.on("cancelled", () => (cancelled = true));
    session.emit("disconnected", "session lost");
    expect(publisher.manager).toBeNull();
    await until(() => cancelled);
  });
});
