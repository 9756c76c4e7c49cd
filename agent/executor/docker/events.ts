// One GET /events stream per executor (containers with this node's label only) feeding the controllers'
// onChange listeners. An event about a watched task makes one inspect of its container (serialised per
// task, so listeners see statuses in order); every (re)connection re-inspects every watched task, so a
// change that happened while the stream was down is still reported. The stream reconnects with backoff.
import type { ContainerStatus } from "../executor.js";
import type { EngineClient, EngineEvent } from "./engine-client.js";
import { LABEL, ownedFilter } from "./names.js";

/** Structured logging, pino-compatible: `log.warn({ err }, "message")`. */
export interface DockerExecutorLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/**
 * Reads a task's container: its status, or null when it has none, as read after `sinceMs` (ms since
 * the epoch, on the engine's clock, which is this host's; Infinity: read now). A read that began
 * after an event happened already shows it, so the fetcher may answer with such a read.
 */
export type StatusFetcher = (sinceMs: number) => Promise<ContainerStatus | null>;
/** Gets each fresh status of a task's container; null once it is gone. */
export type StatusListener = (status: ContainerStatus | null) => void;

/** Reconnect backoff of the events stream. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}
const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000 };

interface Watch {
  fetch: StatusFetcher;
  listeners: Set<StatusListener>;
  /** The refresh in flight, and whether another must follow it. */
  inflight: Promise<void> | null;
  again: boolean;
  /** The next read must be later than this (the latest event not read yet; Infinity after a reconnection). */
  since: number;
}

/** Whether a container event can change what a ContainerStatus says. */
export function isStatusEvent(e: EngineEvent): boolean {
  if (e.type !== "container") return false;
  const a = e.action;
  return a === "start" || a === "die" || a === "oom" || a === "pause" || a === "unpause" || a === "restart" || a === "destroy" || a.startsWith("health_status");
}

/** The container events of one node's containers, one stream for the whole executor. */
export class ContainerEvents {
  private readonly watches = new Map<string, Watch>();
  private abort: AbortController | null = null;
  private started = false;
  private closed = false;
  private delayMs: number;
  private timer: NodeJS.Timeout | null = null;
  private connectedOnce: Promise<void>;
  private resolveConnected!: () => void;

  constructor(
    private readonly client: EngineClient,
    private readonly nodeId: string,
    private readonly log: DockerExecutorLogger,
    private readonly backoff: Backoff = DEFAULT_BACKOFF,
  ) {
    this.delayMs = backoff.initialMs;
    this.connectedOnce = new Promise((r) => (this.resolveConnected = r));
  }

  /** Resolves once the stream has been connected (at least once). Starts it if needed. */
  connected(): Promise<void> {
    this.ensureStarted();
    return this.connectedOnce;
  }

  /**
   * Calls `listener` with the task's container status after each event about it and after each
   * (re)connection of the stream. Answers the unsubscribe function.
   */
  watch(taskId: string, fetch: StatusFetcher, listener: StatusListener): () => void {
    if (this.closed) return () => {};
    let w = this.watches.get(taskId);
    if (!w) {
      w = { fetch, listeners: new Set(), inflight: null, again: false, since: -Infinity };
      this.watches.set(taskId, w);
    }
    w.fetch = fetch;
    w.listeners.add(listener);
    this.ensureStarted();
    return () => {
      const cur = this.watches.get(taskId);
      if (!cur) return;
      cur.listeners.delete(listener);
      if (cur.listeners.size === 0) this.watches.delete(taskId);
    };
  }

  /** Stops the stream for good and drops every listener. */
  close(): void {
    this.closed = true;
    this.watches.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
    this.abort = null;
  }

  private ensureStarted(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const abort = new AbortController();
    this.abort = abort;
    let ended = false;
    const onEnd = (err?: Error): void => {
      if (ended) return;
      ended = true;
      if (this.closed || abort.signal.aborted) return;
      this.log.warn({ err: err?.message }, "docker events stream ended; reconnecting");
      this.scheduleReconnect();
    };
    try {
      await this.client.events({ type: ["container"], label: ownedFilter(this.nodeId) }, (e) => this.onEvent(e), onEnd, abort.signal);
    } catch (e) {
      if (this.closed || abort.signal.aborted) return;
      ended = true;
      this.log.warn({ err: e instanceof Error ? e.message : String(e), retryMs: this.delayMs }, "cannot open the docker events stream");
      this.scheduleReconnect();
      return;
    }
    if (ended) return;
    this.delayMs = this.backoff.initialMs;
    this.resolveConnected();
    // Whatever changed while the stream was not there.
    for (const taskId of this.watches.keys()) this.refresh(taskId);
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.backoff.maxMs, this.delayMs * 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  private onEvent(e: EngineEvent): void {
    if (!isStatusEvent(e)) return;
    const taskId = e.attributes[LABEL.taskId];
    if (taskId !== undefined && this.watches.has(taskId)) this.refresh(taskId, e.timeNano > 0 ? e.timeNano / 1e6 : Infinity);
  }

  /**
   * Re-reads the task's status (as it is after `sinceMs`) and tells its listeners; one read at a
   * time per task, coalesced.
   */
  private refresh(taskId: string, sinceMs = Infinity): void {
    const w = this.watches.get(taskId);
    if (!w) return;
    w.since = Math.max(w.since, sinceMs);
    if (w.inflight) {
      w.again = true;
      return;
    }
    w.inflight = (async () => {
      do {
        w.again = false;
        const since = w.since;
        w.since = -Infinity;
        let status: ContainerStatus | null;
        try {
          status = await w.fetch(since);
        } catch (e) {
          this.log.warn({ task: taskId, err: e instanceof Error ? e.message : String(e) }, "cannot inspect a task's container after an event");
          continue;
        }
        for (const l of [...w.listeners]) {
          try {
            l(status);
          } catch (e) {
            this.log.error({ task: taskId, err: e instanceof Error ? e.message : String(e) }, "a container status listener threw");
          }
        }
      } while (w.again && !this.closed);
      w.inflight = null;
    })();
  }
}
