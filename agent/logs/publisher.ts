// The agent's log publisher: while the agent has a session, it holds ListenSubscriptions with the
// manager that serves the session (the leader) and, for each subscription, publishes the logs of the
// local tasks it selects on PublishLogs. The listener is opened again (after a backoff) when it fails
// while the session lasts; when the session ends, every subscription stops and the publisher follows
// the agent to its next session.
import * as grpc from "@grpc/grpc-js";
import { LogBrokerClient, type PublishLogsMessage, type SubscriptionMessage } from "../../proto/gen/logs.js";
import type { TaskStatus } from "../../proto/gen/types.js";
import type { LogReader } from "../executor/executor.js";
import { DEFAULT_BACKOFF, backoffDelay, type AssignmentsEvent, type Backoff } from "../session/index.js";
import type { BatchLimits } from "./batch.js";
import { LocalTasks } from "./local-tasks.js";
import { SubscriptionPublisher, type PublishSink } from "./subscription-publisher.js";

/** What the publisher needs of the worker: task statuses as they change. */
export interface WorkerStatuses {
  status(taskId: string): TaskStatus | undefined;
  on(event: "status", listener: (taskId: string, status: TaskStatus) => void): unknown;
  off(event: "status", listener: (taskId: string, status: TaskStatus) => void): unknown;
}

/** What the publisher needs of the agent's session (an AgentSession): where the leader is, when it is lost, the assignments. */
export interface SessionEvents {
  on(event: "session", listener: (sessionId: string, manager: string) => void): unknown;
  on(event: "disconnected", listener: (reason: string) => void): unknown;
  on(event: "assignments", listener: (ev: AssignmentsEvent) => void): unknown;
  off(event: "session", listener: (sessionId: string, manager: string) => void): unknown;
  off(event: "disconnected", listener: (reason: string) => void): unknown;
  off(event: "assignments", listener: (ev: AssignmentsEvent) => void): unknown;
}

export interface LogPublisherOptions {
  nodeId: string;
  /** Reads a task's container logs (the executor). */
  reader: LogReader;
  session: SessionEvents;
  worker: WorkerStatuses;
  /** Called on each dial, so renewed certificates are used. */
  credentials: () => { credentials: grpc.ChannelCredentials; channelOptions: grpc.ChannelOptions };
  /** Metadata sent with every call (tests without TLS name the node here). */
  metadata?: () => grpc.Metadata;
  /** Default 100 ms doubling to 8 s. */
  backoff?: Backoff;
  /** For backoff jitter. Default Math.random. */
  random?: () => number;
  batch?: BatchLimits;
  /** Told why a listener ended (it is opened again while the session lasts). */
  onError?: (err: Error) => void;
}

/** Resolves once `call` can take more writes, or rejects when it failed. */
function drained(call: grpc.ClientWritableStream<PublishLogsMessage>, failed: Promise<never>): Promise<void> {
  return Promise.race([new Promise<void>((resolve) => call.once("drain", resolve)), failed]);
}

/** One manager's ListenSubscriptions, opened again after failures until close(). */
class Connection {
  private readonly client: LogBrokerClient;
  private readonly subscriptions = new Map<string, SubscriptionPublisher>();
  private closed = false;
  private listener: grpc.ClientReadableStream<SubscriptionMessage> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    readonly addr: string,
    private readonly opts: LogPublisherOptions,
    private readonly tasks: LocalTasks,
  ) {
    const { credentials, channelOptions } = opts.credentials();
    this.client = new LogBrokerClient(addr, credentials, channelOptions);
  }

  /** Subscriptions being published now. */
  get active(): number {
    return this.subscriptions.size;
  }

  async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const established = await this.listenOnce();
      if (this.closed) break;
      failures = established ? 1 : failures + 1;
      await this.pause(backoffDelay(failures, this.opts.backoff ?? DEFAULT_BACKOFF, this.opts.random ?? Math.random));
    }
  }

  close(): void {
    this.closed = true;
    this.listener?.cancel();
    this.wake?.();
    this.stopAll();
    this.client.close();
  }

  /** One ListenSubscriptions stream; resolves when it ends, with whether the broker had accepted it. */
  private listenOnce(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let established = false;
      const call = this.client.listenSubscriptions({}, this.metadata());
      this.listener = call;
      const end = (err?: grpc.ServiceError): void => {
        if (this.listener !== call) return;
        this.listener = null;
        this.stopAll();
        if (err && !this.closed) this.opts.onError?.(new Error(`log listener at ${this.addr} failed: ${err.details || err.message}`));
        resolve(established);
      };
      call.on("metadata", () => (established = true));
      call.on("data", (msg: SubscriptionMessage) => {
        established = true;
        this.onSubscription(msg);
      });
      call.on("error", (err: grpc.ServiceError) => end(err));
      call.on("end", () => end());
    });
  }

  private onSubscription(msg: SubscriptionMessage): void {
    if (msg.close) {
      this.subscriptions.get(msg.id)?.stop();
      return;
    }
    if (this.subscriptions.has(msg.id)) return;
    const sub = new SubscriptionPublisher(msg, {
      nodeId: this.opts.nodeId,
      tasks: this.tasks,
      reader: this.opts.reader,
      sink: this.publishSink(() => sub.stop()),
      ...(this.opts.batch ? { batch: this.opts.batch } : {}),
    });
    this.subscriptions.set(msg.id, sub);
    void sub.run().finally(() => {
      if (this.subscriptions.get(msg.id) === sub) this.subscriptions.delete(msg.id);
    });
  }

  /** A PublishLogs stream; `onFailure` when the broker refuses it or the connection breaks. */
  private publishSink(onFailure: () => void): PublishSink {
    let rejectFailed!: (e: Error) => void;
    const failed = new Promise<never>((_, reject) => (rejectFailed = reject));
    failed.catch(() => undefined);
    const call = this.client.publishLogs(this.metadata(), (err) => {
      if (!err) return;
      rejectFailed(err);
      onFailure();
    });
    return {
      write: (msg) => (call.write(msg) ? Promise.resolve() : drained(call, failed)),
      end: () => call.end(),
    };
  }

  private stopAll(): void {
    for (const sub of this.subscriptions.values()) sub.stop();
    this.subscriptions.clear();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private metadata(): grpc.Metadata {
    return this.opts.metadata?.() ?? new grpc.Metadata();
  }
}

export class LogPublisher {
  private readonly tasks: LocalTasks;
  private connection: Connection | null = null;
  private started = false;

  private readonly onSession = (_sessionId: string, manager: string): void => this.connect(manager);
  private readonly onDisconnected = (): void => this.disconnect();
  private readonly onAssignments = (ev: AssignmentsEvent): void => this.tasks.assign(ev);
  private readonly onStatus = (taskId: string, status: TaskStatus): void => this.tasks.statusChanged(taskId, status);

  constructor(private readonly opts: LogPublisherOptions) {
    this.tasks = new LocalTasks(opts.nodeId, (id) => opts.worker.status(id));
  }

  /** The manager it listens to now, or null between sessions. */
  get manager(): string | null {
    return this.connection?.addr ?? null;
  }

  /** Subscriptions being published now. */
  get activeSubscriptions(): number {
    return this.connection?.active ?? 0;
  }

  /** Follows the agent's session from now on (call before the session starts). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.opts.session.on("session", this.onSession);
    this.opts.session.on("disconnected", this.onDisconnected);
    this.opts.session.on("assignments", this.onAssignments);
    this.opts.worker.on("status", this.onStatus);
  }

  /** Stops listening and publishing. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.opts.session.off("session", this.onSession);
    this.opts.session.off("disconnected", this.onDisconnected);
    this.opts.session.off("assignments", this.onAssignments);
    this.opts.worker.off("status", this.onStatus);
    this.disconnect();
  }

  private connect(manager: string): void {
    this.disconnect();
    let conn: Connection;
    try {
      conn = new Connection(manager, this.opts, this.tasks);
    } catch (e) {
      // No credentials now (the node is leaving): the next session tries again. Never throw into the session's emit.
      this.opts.onError?.(new Error(`cannot dial ${manager} for logs: ${(e as Error).message}`));
      return;
    }
    this.connection = conn;
    void conn.run();
  }

  private disconnect(): void {
    this.connection?.close();
    this.connection = null;
  }
}
