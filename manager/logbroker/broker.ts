// The log broker: a leader component between clients that want logs (SubscribeLogs) and the agents
// that read them from their engines (ListenSubscriptions, PublishLogs). A subscription resolves its
// selector against the store, finds the nodes of the tasks it names, tells those nodes' listeners,
// and relays what they publish to the client in the order each node sends it. Every wait is bounded:
// a node that is down, has no listener in time, or (without follow) goes silent is reported to the
// client as a warning instead of holding the subscription open.
import { randomBytes } from "node:crypto";
import type { PublishLogsMessage, SubscribeLogsRequest, SubscriptionMessage } from "../../proto/gen/logs.js";
import type { Node, Task } from "../../proto/gen/objects.js";
import { NodeState } from "../../proto/gen/types.js";
import type { LeaderComponent } from "../leader-components.js";
import type { MemoryStore, Watch } from "../store/index.js";
import { LogBrokerError, LogBrokerErrorCode } from "./errors.js";
import { checkOptions, isScheduled, nodesOfSelection, resolveSelector, selects } from "./selector.js";
import { Subscription, type NodePart, type SendLogs, type Timers } from "./subscription.js";

/** How long a subscription waits for a node that is not down to open its listener. */
export const DEFAULT_LISTENER_WAIT_MS = 5_000;
/** Without follow: how long a node that was asked may send nothing before its part is given up. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** Sends a subscription (or its close) to a node's listener. */
export type SendSubscription = (msg: SubscriptionMessage) => void;

export interface LogBrokerOptions {
  store: MemoryStore;
  /** Subscription ids. Default: 128 random bits, hex. */
  newId?: () => string;
  /** Default: setTimeout (unref'd). */
  timers?: Timers;
  /** Default {@link DEFAULT_LISTENER_WAIT_MS}. */
  listenerWaitMs?: number;
  /** Default {@link DEFAULT_IDLE_TIMEOUT_MS}. */
  idleTimeoutMs?: number;
}

interface Listener {
  send: SendSubscription;
  end(err?: Error): void;
}

const systemTimers: Timers = {
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

export class LogBroker implements LeaderComponent {
  readonly name = "logbroker";
  private active = false;
  private readonly listeners = new Map<string, Listener>();
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly timers: Timers;
  private readonly listenerWaitMs: number;
  private readonly idleTimeoutMs: number;
  private readonly newId: () => string;

  constructor(private readonly opts: LogBrokerOptions) {
    this.timers = opts.timers ?? systemTimers;
    this.listenerWaitMs = opts.listenerWaitMs ?? DEFAULT_LISTENER_WAIT_MS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.newId = opts.newId ?? (() => randomBytes(16).toString("hex"));
  }

  /** Whether it serves (started on the leader and not stopped). */
  get running(): boolean {
    return this.active;
  }

  /** Subscriptions open now. */
  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  /** Nodes with a listener now. */
  listeningNodes(): string[] {
    return [...this.listeners.keys()].sort();
  }

  start(): void {
    this.active = true;
  }

  /** Ends every subscription and listener with UNAVAILABLE: another manager leads now. */
  stop(): void {
    this.active = false;
    const err = new LogBrokerError(LogBrokerErrorCode.Unavailable, "log broker stopped: leadership moved; retry");
    for (const sub of this.subscriptions.values()) sub.fail(err);
    for (const l of this.listeners.values()) l.end(err);
    this.listeners.clear();
  }

  /**
   * Serves one client's subscription: resolves and validates the request (rejecting with
   * INVALID_ARGUMENT or NOT_FOUND before `onSubscribed`), then relays logs through `send` until it is
   * complete (without follow) or the signal aborts (the client went away). Rejects with UNAVAILABLE
   * when the broker stops.
   */
  async subscribe(request: SubscribeLogsRequest, send: SendLogs, signal: AbortSignal, onSubscribed?: () => void): Promise<void> {
    this.requireRunning();
    const { selector, nodes } = this.opts.store.view((r) => {
      const sel = resolveSelector(r, request.selector);
      return { selector: sel, nodes: nodesOfSelection(r, sel) };
    });
    const sub = new Subscription(this.newId(), selector, checkOptions(request.options), send);
    this.subscriptions.set(sub.id, sub);
    // Opened in the same tick as the read above, so no task change falls between the two.
    const watch = sub.follow ? this.opts.store.watch({ kinds: ["task"] }) : null;
    if (watch) void this.followTasks(sub, watch);
    const onAbort = (): void => sub.end();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      onSubscribed?.();
      for (const nodeId of nodes) this.addNode(sub, nodeId);
      sub.endIfComplete();
      await sub.done;
    } finally {
      signal.removeEventListener("abort", onAbort);
      sub.end();
      this.subscriptions.delete(sub.id);
      this.closeParts(sub);
    }
  }

  /**
   * Holds a node's listener: sends it the subscriptions that wait for it now and later, until the
   * signal aborts (the node went away) or the broker stops (rejects UNAVAILABLE). A newer listener of
   * the same node replaces this one.
   */
  listen(nodeId: string, send: SendSubscription, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.requireRunning();
      const listener: Listener = {
        send,
        end: (err) => {
          signal.removeEventListener("abort", onAbort);
          if (err) reject(err);
          else resolve();
        },
      };
      const onAbort = (): void => {
        if (this.listeners.get(nodeId) !== listener) return;
        this.listeners.delete(nodeId);
        this.listenerLost(nodeId);
        listener.end();
      };
      const old = this.listeners.get(nodeId);
      if (old) {
        this.listeners.delete(nodeId);
        this.listenerLost(nodeId);
        old.end(new LogBrokerError(LogBrokerErrorCode.Unavailable, `the listener of node ${nodeId} was replaced by a newer one`));
      }
      this.listeners.set(nodeId, listener);
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) return onAbort();
      for (const sub of this.subscriptions.values()) {
        const part = sub.parts.get(nodeId);
        if (part?.state === "waiting") this.sendPart(sub, nodeId, part, listener);
      }
    });
  }

  /**
   * Takes one node's PublishLogs stream: relays each message's lines to its subscription (waiting
   * while the client drains) and ends the node's part on `close`. Rejects (ending the stream) with
   * NOT_FOUND for a subscription that is not open, PERMISSION_DENIED for one the node was not asked
   * for or lines of another node.
   */
  async publish(nodeId: string, messages: AsyncIterable<PublishLogsMessage>): Promise<void> {
    for await (const m of messages) {
      this.requireRunning();
      const sub = this.subscriptions.get(m.subscriptionId);
      if (!sub) {
        throw new LogBrokerError(LogBrokerErrorCode.NotFound, `subscription ${m.subscriptionId} is not open: it ended or its client went away; stop publishing for it`);
      }
      const part = sub.parts.get(nodeId);
      if (!part) throw new LogBrokerError(LogBrokerErrorCode.PermissionDenied, `node ${nodeId} was not asked to publish for subscription ${sub.id}`);
      const foreign = m.messages.find((l) => l.context?.nodeId !== nodeId);
      if (foreign) {
        throw new LogBrokerError(LogBrokerErrorCode.PermissionDenied, `node ${nodeId} cannot publish logs of node "${foreign.context?.nodeId ?? ""}"`);
      }
      if (part.state === "done") continue; // given up on (silent too long): too late
      // The node is not silent while the client drains: the idle bound restarts once this is delivered.
      part.timer?.cancel();
      part.timer = null;
      if (m.messages.length > 0) await sub.deliver({ messages: m.messages, warnings: [] });
      if (m.close) {
        if (m.error) sub.warn(nodeId, `node ${nodeId} could not read all its logs: ${m.error}`);
        sub.partDone(nodeId);
      } else if (!sub.follow && part.state === "sent") {
        this.armIdle(sub, nodeId, part);
      }
    }
  }

  private requireRunning(): void {
    if (!this.active) throw new LogBrokerError(LogBrokerErrorCode.Unavailable, "the log broker is not running on this manager: it runs on the leader; retry");
  }

  /** Makes the node part of the subscription: asks its listener, or waits for one (bounded), or warns that it is down. */
  private addNode(sub: Subscription, nodeId: string): void {
    if (sub.isEnded || sub.parts.has(nodeId)) return;
    const part: NodePart = { state: "waiting", timer: null, resume: false };
    sub.parts.set(nodeId, part);
    const listener = this.listeners.get(nodeId);
    if (listener) return this.sendPart(sub, nodeId, part, listener);
    const node = this.opts.store.view((r) => r.get("node", nodeId)) as Node | undefined;
    if (!node || node.status?.state === NodeState.NODE_STATE_DOWN) {
      sub.warn(nodeId, `node ${nodeId} is down: its logs are missing`);
      // With follow the node stays awaited: if it comes back, it is asked then.
      if (!sub.follow) sub.partDone(nodeId);
      return;
    }
    part.timer = this.timers.setTimer(() => {
      part.timer = null;
      if (part.state !== "waiting") return;
      sub.warn(nodeId, `node ${nodeId} is not connected to the leader (no log listener within ${seconds(this.listenerWaitMs)}): its logs are missing`);
      if (!sub.follow) sub.partDone(nodeId);
    }, this.listenerWaitMs);
  }

  private sendPart(sub: Subscription, nodeId: string, part: NodePart, listener: Listener): void {
    part.timer?.cancel();
    part.timer = null;
    part.state = "sent";
    listener.send(sub.message(part.resume));
    if (!sub.follow) this.armIdle(sub, nodeId, part);
  }

  /** Without follow: gives the node's part up if the node sends nothing for the idle timeout. */
  private armIdle(sub: Subscription, nodeId: string, part: NodePart): void {
    part.timer?.cancel();
    part.timer = this.timers.setTimer(() => {
      part.timer = null;
      if (part.state !== "sent") return;
      sub.warn(nodeId, `node ${nodeId} sent no logs for ${seconds(this.idleTimeoutMs)}: its logs may be incomplete`);
      this.listeners.get(nodeId)?.send(closeMessage(sub.id));
      sub.partDone(nodeId);
    }, this.idleTimeoutMs);
  }

  /** A node's listener went away: its parts in flight end (without follow) or wait for it to listen again. */
  private listenerLost(nodeId: string): void {
    for (const sub of this.subscriptions.values()) {
      const part = sub.parts.get(nodeId);
      if (part?.state !== "sent") continue;
      if (sub.follow) {
        part.state = "waiting";
        part.resume = true;
      } else {
        sub.warn(nodeId, `node ${nodeId} disconnected while publishing: its logs may be incomplete`);
        sub.partDone(nodeId);
      }
    }
  }

  /** With follow: adds the nodes that tasks named by the selector are scheduled on later. */
  private async followTasks(sub: Subscription, watch: Watch): Promise<void> {
    let w = watch;
    const close = (): void => w.close();
    void sub.done.then(close, close);
    while (!sub.isEnded) {
      try {
        for await (const e of w) {
          if (e.type !== "create" && e.type !== "update") continue;
          const t = e.object as unknown as Task;
          if (isScheduled(t) && selects(sub.selector, t)) this.addNode(sub, t.nodeId);
        }
        return; // closed: the subscription ended
      } catch {
        // The watch fell behind or a snapshot replaced the store: look again from now on.
        if (sub.isEnded) return;
        w = this.opts.store.watch({ kinds: ["task"] });
        for (const nodeId of this.opts.store.view((r) => nodesOfSelection(r, sub.selector))) this.addNode(sub, nodeId);
      }
    }
  }

  /** Tells the nodes still publishing for an ended subscription to stop. */
  private closeParts(sub: Subscription): void {
    for (const [nodeId, part] of sub.parts) {
      if (part.state === "sent") this.listeners.get(nodeId)?.send(closeMessage(sub.id));
      part.state = "done";
    }
  }
}

function closeMessage(id: string): SubscriptionMessage {
  return { id, selector: undefined, options: undefined, close: true };
}
