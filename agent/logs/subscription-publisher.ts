// One subscription on this node: read the logs of the local tasks it selects through the executor,
// publish them in batches, then `close` (with the engine's error when reading failed). Without follow
// it reads the tasks whose containers have run and closes when they are read; with follow it also
// reads tasks that start later (all their lines: `tail` is for what was there before), until the
// broker closes the subscription. Lines of one task go out in the order the engine gives them.
import { LogMessage, LogStream, type PublishLogsMessage, type SubscriptionMessage } from "../../proto/gen/logs.js";
import type { Task } from "../../proto/gen/objects.js";
import type { LogReadOptions, LogReader, LogStreamName } from "../executor/executor.js";
import { LogBatcher, type BatchLimits } from "./batch.js";
import { hasRun, type LocalTasks } from "./local-tasks.js";

/** Where a subscription's messages go (a PublishLogs stream). */
export interface PublishSink {
  /** Sends one message; resolves once the stream can take more. Rejects when the stream failed. */
  write(msg: PublishLogsMessage): Promise<void>;
  /** Half-closes the stream. */
  end(): void;
}

export interface SubscriptionPublisherDeps {
  nodeId: string;
  tasks: LocalTasks;
  reader: LogReader;
  sink: PublishSink;
  batch?: BatchLimits;
}

const STREAM_NAMES: Partial<Record<LogStream, LogStreamName>> = {
  [LogStream.LOG_STREAM_STDOUT]: "stdout",
  [LogStream.LOG_STREAM_STDERR]: "stderr",
};

/** The executor's read options for a subscription's options. */
export function readOptions(msg: SubscriptionMessage): LogReadOptions {
  const o = msg.options;
  return {
    follow: o?.follow ?? false,
    tail: o?.tail ?? -1,
    sinceUnixMs: o?.sinceUnixMs ?? 0,
    streams: (o?.streams ?? []).map((s) => STREAM_NAMES[s]).filter((s) => s !== undefined),
  };
}

export class SubscriptionPublisher {
  /** Aborted when the broker closes the subscription or the listener goes away: stop without a close message. */
  private readonly stopped = new AbortController();
  /** Aborted on the first reading failure too. */
  private readonly reading = new AbortController();
  private readonly readers = new Map<string, Promise<void>>();
  private readonly batcher: LogBatcher;
  private readonly options: LogReadOptions;
  private error = "";

  constructor(
    private readonly msg: SubscriptionMessage,
    private readonly deps: SubscriptionPublisherDeps,
  ) {
    this.options = readOptions(msg);
    this.batcher = new LogBatcher(
      (messages) => deps.sink.write({ subscriptionId: msg.id, messages, close: false, error: "" }),
      () => this.stop(), // the stream failed: nothing more can be sent
      deps.batch,
    );
    this.stopped.signal.addEventListener("abort", () => this.reading.abort(), { once: true });
  }

  get id(): string {
    return this.msg.id;
  }

  /** Stops reading and ends the stream without a close message (the broker closed it, or is gone). */
  stop(): void {
    this.stopped.abort();
  }

  /** Publishes until done (see the file comment). Never rejects: a failed stream just ends it. */
  async run(): Promise<void> {
    const selector = this.msg.selector ?? { serviceIds: [], nodeIds: [], taskIds: [] };
    const onChange = (t: Task): void => {
      if (this.deps.tasks.selects(selector, t)) this.maybeRead(t, { ...this.options, tail: -1 });
    };
    if (this.options.follow) this.deps.tasks.on("change", onChange);
    try {
      for (const t of this.deps.tasks.matching(selector)) this.maybeRead(t, this.options);
      if (this.options.follow) await aborted(this.reading.signal);
      while (this.readers.size > 0) await Promise.all(this.readers.values()).then(() => this.readers.clear());
      if (this.stopped.signal.aborted) return;
      await this.batcher.flush();
      await this.deps.sink.write({ subscriptionId: this.msg.id, messages: [], close: true, error: this.error });
    } catch {
      // The stream failed (the broker refused it or went away): nothing more to send.
    } finally {
      this.deps.tasks.off("change", onChange);
      this.stopped.abort();
      this.deps.sink.end();
    }
  }

  /** Starts reading a task whose container has run, once. */
  private maybeRead(task: Task, options: LogReadOptions): void {
    if (this.reading.signal.aborted || this.readers.has(task.id) || !hasRun(this.deps.tasks.state(task.id))) return;
    const p = this.read(task, options).catch((e: unknown) => {
      if (this.reading.signal.aborted) return;
      this.error ||= e instanceof Error ? e.message : String(e);
      this.reading.abort();
    });
    this.readers.set(task.id, p);
  }

  private async read(task: Task, options: LogReadOptions): Promise<void> {
    const context = { serviceId: task.serviceId, nodeId: this.deps.nodeId, taskId: task.id };
    for await (const l of this.deps.reader.logs(task, options, this.reading.signal)) {
      if (this.reading.signal.aborted) return;
      const stream = l.stream === "stderr" ? LogStream.LOG_STREAM_STDERR : LogStream.LOG_STREAM_STDOUT;
      await this.batcher.add(LogMessage.fromPartial({ context, timestamp: l.timestamp, stream, data: l.data }));
    }
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
