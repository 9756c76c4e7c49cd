// One subscription on a node, over the sim executor and a fake PublishLogs sink: which tasks are read,
// batches, close (with the engine's error), follow picking up tasks that start later, stop.
import { describe, expect, it } from "vitest";
import { LogStream, type PublishLogsMessage, type SubscriptionMessage } from "../../proto/gen/logs.js";
import { Task } from "../../proto/gen/objects.js";
import { TaskState, type TaskStatus } from "../../proto/gen/types.js";
import type { LogReader } from "../executor/executor.js";
import { ManualClock, SimExecutor, until } from "../executor/sim/index.js";
import { LocalTasks } from "./local-tasks.js";
import { SubscriptionPublisher, type PublishSink } from "./subscription-publisher.js";

const NODE = "n1";

class FakeSink implements PublishSink {
  readonly messages: PublishLogsMessage[] = [];
  ended = false;
  failWith: Error | null = null;
  async write(msg: PublishLogsMessage): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.messages.push(msg);
  }
  end(): void {
    this.ended = true;
  }
  /** The lines as "task text" in the order sent. */
  get lines(): string[] {
    return this.messages.flatMap((m) => m.messages.map((l) => `${l.context?.taskId} ${l.data.toString().trimEnd()}`));
  }
}

function task(id: string, serviceId = "svc1"): Task {
  return Task.fromPartial({ id, serviceId, nodeId: NODE, spec: { runtime: { $case: "container", container: { image: "busybox" } } } });
}

function status(state: TaskState): TaskStatus {
  return { timestampUnixMs: 0, state, message: "", err: "", container: undefined, portStatus: undefined, appliedBy: "", appliedAtUnixMs: 0 };
}

function subscription(selector: Partial<NonNullable<SubscriptionMessage["selector"]>>, options: Partial<NonNullable<SubscriptionMessage["options"]>> = {}): SubscriptionMessage {
  return {
    id: "sub1",
    selector: { serviceIds: [], nodeIds: [], taskIds: [], ...selector },
    options: { streams: [], follow: false, tail: -1, sinceUnixMs: 0, ...options },
    close: false,
  };
}

/** A sim executor whose tasks `running` have started; LocalTasks that know `assigned` (those started are RUNNING). */
async function setup(assigned: Task[], running: string[]): Promise<{ sim: SimExecutor; tasks: LocalTasks }> {
  const sim = new SimExecutor({ clock: new ManualClock(1_700_000_000_000) });
  const tasks = new LocalTasks(NODE);
  tasks.assign({ type: "complete", tasks: assigned, removedTasks: [], secrets: [], removedSecrets: [], configs: [], removedConfigs: [] });
  for (const id of running) await start(sim, tasks, assigned.find((t) => t.id === id)!);
  return { sim, tasks };
}

async function start(sim: SimExecutor, tasks: LocalTasks, t: Task): Promise<void> {
  const c = sim.controller(t, { secrets: [], configs: [] });
  await c.prepare(new AbortController().signal);
  await c.start();
  tasks.statusChanged(t.id, status(TaskState.TASK_STATE_RUNNING));
}

describe("SubscriptionPublisher", () => {
  it("publishes the selected tasks that have run, in bounded batches, then closes", async () => {
    const { sim, tasks } = await setup([task("a"), task("b"), task("c", "svc2"), task("d")], ["a", "b", "c"]);
    const sink = new FakeSink();
    await new SubscriptionPublisher(subscription({ serviceIds: ["svc1"] }), { nodeId: NODE, tasks, reader: sim, sink, batch: { maxMessages: 2, maxBytes: 1 << 20 } }).run();
    expect(sink.lines.filter((l) => l.startsWith("a "))).toEqual(["a task a line 1", "a task a line 2", "a task a line 3"]);
    expect(sink.lines.filter((l) => l.startsWith("b "))).toEqual(["b task b line 1", "b task b line 2", "b task b line 3"]);
    expect(sink.lines).toHaveLength(6); // c is another service's, d never ran
    expect(sink.messages.every((m) => m.messages.length <= 2)).toBe(true);
    const first = sink.messages[0]!.messages[0]!;
    expect(first.context).toEqual({ serviceId: "svc1", nodeId: NODE, taskId: "a" });
    expect(first.stream).toBe(LogStream.LOG_STREAM_STDOUT);
    expect(first.timestamp).toBe("2023-11-14T22:13:20.001Z");
    expect(sink.messages.at(-1)).toEqual({ subscriptionId: "sub1", messages: [], close: true, error: "" });
    expect(sink.ended).toBe(true);
  });

  it("passes the options to the engine: streams, tail", async () => {
    const { sim, tasks } = await setup([task("a")], ["a"]);
    const sink = new FakeSink();
    await new SubscriptionPublisher(subscription({ taskIds: ["a"] }, { streams: [LogStream.LOG_STREAM_STDERR], tail: 1 }), { nodeId: NODE, tasks, reader: sim, sink }).run();
    expect(sink.lines).toEqual(["a task a line 2"]);
    expect(sink.messages[0]!.messages[0]!.stream).toBe(LogStream.LOG_STREAM_STDERR);
  });

  it("selects every local task when the selector names this node", async () => {
    const { sim, tasks } = await setup([task("a"), task("c", "svc2")], ["a", "c"]);
    const sink = new FakeSink();
    await new SubscriptionPublisher(subscription({ nodeIds: [NODE] }, { tail: 1 }), { nodeId: NODE, tasks, reader: sim, sink }).run();
    expect(sink.lines.sort()).toEqual(["a task a line 3", "c task c line 3"]);
  });

  it("closes with the engine's error when reading fails", async () => {
    const { tasks } = await setup([task("a")], []);
    tasks.statusChanged("a", status(TaskState.TASK_STATE_FAILED));
    const failing: LogReader = {
      // eslint-disable-next-line require-yield
      async *logs() {
        throw new Error("logs of task a: configured logging driver does not support reading");
      },
    };
    const sink = new FakeSink();
    await new SubscriptionPublisher(subscription({ taskIds: ["a"] }), { nodeId: NODE, tasks, reader: failing, sink }).run();
    expect(sink.messages).toEqual([
      { subscriptionId: "sub1", messages: [], close: true, error: "logs of task a: configured logging driver does not support reading" },
    ]);
  });

  it("with follow, reads tasks that start later (all their lines, whatever the tail), and stops without a close when told", async () => {
    const { sim, tasks } = await setup([task("a"), task("b")], ["a"]);
    const sink = new FakeSink();
    const pub = new SubscriptionPublisher(subscription({ serviceIds: ["svc1"] }, { follow: true, tail: 1 }), { nodeId: NODE, tasks, reader: sim, sink });
    const running = pub.run();
    await until(() => sink.lines.length === 1);
    await start(sim, tasks, task("b"));
    await until(() => sink.lines.length === 4);
    const newTask = task("e");
    tasks.assign({ type: "incremental", tasks: [newTask], removedTasks: [], secrets: [], removedSecrets: [], configs: [], removedConfigs: [] });
    await start(sim, tasks, newTask);
    await until(() => sink.lines.length === 7);
    expect(sink.lines).toEqual(["a task a line 3", "b task b line 1", "b task b line 2", "b task b line 3", "e task e line 1", "e task e line 2", "e task e line 3"]);
    pub.stop();
    await running;
    expect(sink.messages.some((m) => m.close)).toBe(false);
    expect(sink.ended).toBe(true);
  });

  it("ends when its stream fails", async () => {
    const { sim, tasks } = await setup([task("a")], ["a"]);
    const sink = new FakeSink();
    sink.failWith = new Error("NOT_FOUND: subscription sub1 is not open");
    await new SubscriptionPublisher(subscription({ taskIds: ["a"] }, { follow: true }), { nodeId: NODE, tasks, reader: sim, sink }).run();
    expect(sink.ended).toBe(true);
  });
});
