// One client's subscription on the broker: what it selects, each node's part in it (waiting for the
// node's listener, sent and publishing, or done), the warnings already given, and its end: without
// `follow` once every part is done, otherwise when the client goes away (or the broker stops).
import type { LogSelector, LogSubscriptionOptions, SubscribeLogsMessage, SubscriptionMessage } from "../../proto/gen/logs.js";

/** Delivers a message to the subscribed client; a returned promise holds the publisher back until the client drained. */
export type SendLogs = (msg: SubscribeLogsMessage) => Promise<void> | void;

/** A pending one-shot timer. */
export interface Timer {
  cancel(): void;
}

/** Where the broker's waits come from (a manual clock in tests). */
export interface Timers {
  setTimer(fn: () => void, ms: number): Timer;
}

/** A node's part: waiting for its listener, sent to it (it publishes), or done (closed, given up). */
export interface NodePart {
  state: "waiting" | "sent" | "done";
  /** The bound of the current wait: the listener to appear, or (without follow) the next message. */
  timer: Timer | null;
  /** Sent once before and lost with the node's listener: resend asking only for new lines. */
  resume: boolean;
}

export class Subscription {
  readonly parts = new Map<string, NodePart>();
  private readonly warned = new Set<string>();
  private ended = false;
  private settle!: { resolve(): void; reject(e: Error): void };
  /** Settles when the subscription ends: resolves when it is complete or the client left, rejects when the broker stops. */
  readonly done: Promise<void>;

  constructor(
    readonly id: string,
    readonly selector: LogSelector,
    readonly options: LogSubscriptionOptions,
    private readonly send: SendLogs,
  ) {
    this.done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
  }

  get follow(): boolean {
    return this.options.follow;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** What tells node agents to publish for it (only new lines when `resume`). */
  message(resume: boolean): SubscriptionMessage {
    return { id: this.id, selector: this.selector, options: resume ? { ...this.options, tail: 0 } : this.options, close: false };
  }

  /** Relays published lines to the client. */
  deliver(msg: SubscribeLogsMessage): Promise<void> | void {
    if (this.ended) return;
    return this.send(msg);
  }

  /** Tells the client once per node why that node's logs are missing. */
  warn(nodeId: string, text: string): void {
    if (this.ended || this.warned.has(nodeId)) return;
    this.warned.add(nodeId);
    void this.send({ messages: [], warnings: [text] });
  }

  /** Marks the node's part done; without follow, ends the subscription once every part is. */
  partDone(nodeId: string): void {
    const part = this.parts.get(nodeId);
    if (!part) return;
    part.state = "done";
    part.timer?.cancel();
    part.timer = null;
    this.endIfComplete();
  }

  endIfComplete(): void {
    if (!this.follow && [...this.parts.values()].every((p) => p.state === "done")) this.end();
  }

  /** Ends it normally (complete, or the client went away). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelTimers();
    this.settle.resolve();
  }

  /** Ends it with an error for the client (the broker stopped). */
  fail(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelTimers();
    this.settle.reject(err);
  }

  private cancelTimers(): void {
    for (const p of this.parts.values()) {
      p.timer?.cancel();
      p.timer = null;
    }
  }
}
