// Helpers for the log broker's tests: a store on the real object model with nodes, services and
// tasks, a pushable async queue (a publisher's stream), and fake clients and listeners. Not part of the API.
import { LogMessage, LogStream, type SubscribeLogsMessage, type SubscriptionMessage } from "../../proto/gen/logs.js";
import { Node, Service, Task } from "../../proto/gen/objects.js";
import { NodeMembership, NodeState, TaskState } from "../../proto/gen/types.js";
import { LocalProposer, MemoryStore, SCHEMAS, protoCodec, stampMeta, type StoreObject } from "../store/index.js";

const obj = (o: object): StoreObject => o as unknown as StoreObject;

export function newStore(): MemoryStore {
  const store = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta, now: () => 1_000 });
  store.setProposer(new LocalProposer(store));
  return store;
}

export async function addNode(store: MemoryStore, id: string, state = NodeState.NODE_STATE_READY): Promise<void> {
  await store.update((tx) => tx.create("node", obj(Node.fromPartial({ id, spec: { membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED }, status: { state } }))));
}

export async function addService(store: MemoryStore, id: string, name: string): Promise<void> {
  await store.update((tx) => tx.create("service", obj(Service.fromPartial({ id, spec: { annotations: { name } } }))));
}

/** A task of `serviceId` on `nodeId` in `state` (ASSIGNED unless told). */
export async function addTask(store: MemoryStore, id: string, serviceId: string, nodeId: string, state = TaskState.TASK_STATE_ASSIGNED): Promise<void> {
  await store.update((tx) =>
    tx.create("task", obj(Task.fromPartial({ id, serviceId, nodeId, status: { state }, desiredState: TaskState.TASK_STATE_RUNNING }))),
  );
}

/** An async iterable fed by push() and closed by end(). */
export class Channel<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | null = null;
  private ended = false;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }
}

/** A log line of `taskId` on `nodeId`. */
export function line(nodeId: string, taskId: string, text: string, serviceId = "svc1"): LogMessage {
  return LogMessage.fromPartial({
    context: { serviceId, nodeId, taskId },
    timestamp: "2026-01-01T00:00:00.000000001Z",
    stream: LogStream.LOG_STREAM_STDOUT,
    data: Buffer.from(`${text}\n`),
  });
}

/** What a subscribed client received: the lines as "node/task text" and the warnings. */
export class Client {
  readonly lines: string[] = [];
  readonly warnings: string[] = [];
  send = (msg: SubscribeLogsMessage): void => {
    for (const m of msg.messages) this.lines.push(`${m.context?.nodeId}/${m.context?.taskId} ${m.data.toString().trimEnd()}`);
    this.warnings.push(...msg.warnings);
  };
}

/** What a node's listener received. */
export class FakeListener {
  readonly messages: SubscriptionMessage[] = [];
  readonly abort = new AbortController();
  send = (msg: SubscriptionMessage): void => void this.messages.push(msg);
  get opened(): SubscriptionMessage[] {
    return this.messages.filter((m) => !m.close);
  }
  get closed(): string[] {
    return this.messages.filter((m) => m.close).map((m) => m.id);
  }
}
