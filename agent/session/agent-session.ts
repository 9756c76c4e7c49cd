// The agent's session with the managers. It dials one manager, opens the Session stream (sending
// the host's description), and heartbeats at the period each answer names. A manager that is not
// the leader answers UNAVAILABLE naming the leader (`swarm-leader-addr`), and the agent dials the
// leader directly. On any failure (the stream ends, a heartbeat fails, no first message in time)
// it closes the channel and dials again, the last session message's leader first, else another
// manager, after an exponential backoff with jitter. Credentials are fetched on every dial, so a
// renewed certificate is used from the next connection on.
//
// Once a session is up it opens the Assignments stream and emits each message as an `assignments`
// event (a complete set first); an incremental message that does not follow on from the one before
// reopens the stream for a complete set. Task statuses go out through reportStatus(), batched by a
// StatusReporter that keeps them across reconnects; after every (re)connect `reconnected` asks the
// worker to report every task's status again, as SwarmKit's agent does.
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import {
  DispatcherClient,
  type AssignmentsMessage,
  type HeartbeatResponse,
  type ManagerPeer,
  type SessionMessage,
  type TaskStatusUpdate,
} from "../../proto/gen/dispatcher.js";
import type { Node } from "../../proto/gen/objects.js";
import type { NodeDescription } from "../../proto/gen/types.js";
import { LEADER_ADDR_METADATA } from "../../proto/metadata.js";
import { assignmentsEvent, isGap, type AssignmentsEvent } from "./assignments.js";
import { DEFAULT_BACKOFF, ManagerPicker, backoffDelay, type Backoff } from "./remotes.js";
import { StatusReporter, type StatusBatch } from "./status-reporter.js";

/** Deadline of a heartbeat and of the first session message (SwarmKit's agent: 5 s). */
export const DEFAULT_RPC_TIMEOUT_MS = 5_000;

export interface AgentSessionOptions {
  /** Managers' cluster addresses (host:port) known at start; session messages add the others. */
  managers: string[];
  /** Called on each dial, so renewed certificates are used. */
  credentials: () => { credentials: grpc.ChannelCredentials; channelOptions: grpc.ChannelOptions };
  /** This node's description, sent when a session opens. */
  describe: () => Promise<NodeDescription>;
  /** Random numbers in [0, 1) for backoff jitter and manager choice. Default Math.random. */
  random?: () => number;
  /** Default 100 ms doubling to 8 s. */
  backoff?: Backoff;
  /** Deadline of each heartbeat and of the first session message. Default 5000 ms. */
  rpcTimeoutMs?: number;
  /**
   * Metadata sent with every call. In production the managers know the node by its TLS client
   * certificate and this is unset; tests without TLS name the node here.
   */
  metadata?: () => grpc.Metadata;
  /** Batching of reportStatus(): at most maxUpdates (default 100) per call; sent at once when no call is in flight, collected while one is. */
  statusBatch?: Partial<StatusBatch>;
}

/** Events of an AgentSession. */
export interface AgentSessionEvents {
  /** A session opened: its id and the manager (host:port) that serves it. */
  session: [sessionId: string, manager: string];
  /** The node object from each session message (its role follows promotions and demotions). */
  node: [node: Node];
  /** The managers, when a session message names a different list than the last one emitted. */
  managers: [managers: ManagerPeer[]];
  /** Every session message as received (root CA, network keys, period). */
  message: [message: SessionMessage];
  /** A session or an attempt to open one ended; the agent dials again after a backoff. */
  disconnected: [reason: string];
  /**
   * A session was established, the first one or after a reconnect: report the status of every task
   * again (the manager may have missed some, or be a new leader). Follows `session`; the first
   * `assignments` event of the session comes after it.
   */
  reconnected: [sessionId: string, manager: string];
  /** A message of the Assignments stream: a complete set (first on every stream) or changes to it. */
  assignments: [assignments: AssignmentsEvent];
}

/** The outcome of one connection: why it ended, and where the leader is if the manager said. */
interface Outcome {
  reason: string;
  leader: string | null;
  established: boolean;
}

function leaderOf(err: grpc.ServiceError | undefined): string | null {
  const v = err?.metadata?.get(LEADER_ADDR_METADATA)[0];
  return typeof v === "string" && v !== "" ? v : null;
}

function samePeers(a: ManagerPeer[] | null, b: ManagerPeer[]): boolean {
  return a !== null && a.length === b.length && a.every((p, i) => p.nodeId === b[i]!.nodeId && p.addr === b[i]!.addr && p.leader === b[i]!.leader);
}

/** Answers to UpdateTaskStatus that another try would get again: those reports are rejected, not retried. */
const PERMANENT = new Set<number>([grpc.status.PERMISSION_DENIED, grpc.status.INVALID_ARGUMENT, grpc.status.UNIMPLEMENTED]);

function describeError(err: grpc.ServiceError): string {
  return `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
}

/** One session at a time with the cluster's managers, re-established on every failure. */
export class AgentSession extends EventEmitter<AgentSessionEvents> {
  private readonly picker: ManagerPicker;
  private readonly random: () => number;
  private readonly backoff: Backoff;
  private readonly timeoutMs: number;
  private loop: Promise<void> | null = null;
  private stopped = false;
  /** Ends the connection in progress (or the backoff wait). */
  private interrupt: (() => void) | null = null;
  private failures = 0;
  private lastSessionId = "";
  private lastManagers: ManagerPeer[] | null = null;
  private current: { sessionId: string; manager: string } | null = null;
  private readonly reporter: StatusReporter;
  private assignmentStreams = 0;

  constructor(private readonly opts: AgentSessionOptions) {
    super();
    if (opts.managers.length === 0) throw new Error("an agent session needs the address of at least one manager");
    this.random = opts.random ?? Math.random;
    this.picker = new ManagerPicker(opts.managers, this.random);
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.timeoutMs = opts.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
    this.reporter = new StatusReporter({
      ...(opts.statusBatch ? { batch: opts.statusBatch } : {}),
      backoff: this.backoff,
      random: this.random,
      isPermanent: (e) => PERMANENT.has((e as grpc.ServiceError).code),
    });
  }

  /**
   * Sends task statuses to the managers, batched (latest status per task; a lower state never
   * replaces a higher one). Resolves once the manager committed them; statuses not sent when a
   * session ends are kept and sent over the next one. Rejects when the manager refuses them for good
   * (PERMISSION_DENIED: a task of another node; INVALID_ARGUMENT) or on stop().
   */
  reportStatus(updates: TaskStatusUpdate[]): Promise<void> {
    return this.reporter.report(updates);
  }

  /** Statuses waiting to be sent. */
  get queuedStatuses(): number {
    return this.reporter.queued;
  }

  /** Assignments streams opened so far (one per session, plus one per gap detected). */
  get assignmentStreamsOpened(): number {
    return this.assignmentStreams;
  }

  /** The open session (id and manager), or null between sessions. */
  get session(): { sessionId: string; manager: string } | null {
    return this.current;
  }

  /** Every manager address known (from the options and session messages). */
  managerAddresses(): string[] {
    return this.picker.addresses();
  }

  /** Starts dialing; sessions are re-established until stop(). */
  start(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.run();
  }

  /** Ends the session and closes the channel; no more dialing. Resolves once everything is closed. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.interrupt?.();
    this.reporter.close(new Error("the agent session stopped"));
    await this.loop;
  }

  private async run(): Promise<void> {
    let redirectedLast = false;
    while (!this.stopped) {
      const addr = this.picker.next();
      const out = await this.connect(addr);
      this.current = null;
      if (this.stopped) return;
      this.emit("disconnected", out.reason);
      if (this.stopped) return; // stopped by a listener
      if (out.leader === addr && !out.established) {
        // The manager leads but was just elected: its dispatcher starts within moments. Come back to it
        // shortly rather than count a failure (the backoff would grow for nothing, and the next choice
        // would move to a follower, or to the dead former leader).
        this.picker.redirectTo(addr);
        await this.wait(backoffDelay(2, this.backoff, this.random));
        continue;
      }
      if (out.established) this.failures = 0;
      this.failures++;
      this.picker.failed(addr);
      if (out.leader && out.leader !== addr) {
        this.picker.redirectTo(out.leader);
        // Follow a redirect at once, but back off when redirects follow one another (leadership moving).
        if (!redirectedLast) {
          redirectedLast = true;
          continue;
        }
      } else {
        redirectedLast = false;
      }
      await this.wait(backoffDelay(this.failures, this.backoff, this.random));
    }
  }

  private wait(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.interrupt = done;
    });
  }

  /** One connection to `addr`: open the session, heartbeat, until something fails. Never rejects. */
  private connect(addr: string): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let client: DispatcherClient;
      try {
        const { credentials, channelOptions } = this.opts.credentials();
        client = new DispatcherClient(addr, credentials, channelOptions);
      } catch (e) {
        resolve({ reason: `cannot dial ${addr}: ${(e as Error).message}`, leader: null, established: false });
        return;
      }
      let done = false;
      let established = false;
      let sessionId = "";
      let periodMs = 0;
      let stream: grpc.ClientReadableStream<SessionMessage> | null = null;
      let beat: grpc.ClientUnaryCall | null = null;
      let timer: NodeJS.Timeout | null = null;
      let assignments: grpc.ClientReadableStream<AssignmentsMessage> | null = null;
      const statusCalls = new Set<grpc.ClientUnaryCall>();

      const finish = (reason: string, err?: grpc.ServiceError): void => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        this.interrupt = null;
        this.reporter.detach();
        beat?.cancel();
        stream?.cancel();
        assignments?.cancel();
        for (const c of statusCalls) c.cancel();
        client.close();
        resolve({ reason, leader: leaderOf(err), established });
      };
      this.interrupt = () => finish("stopped");

      const schedule = (ms: number): void => {
        timer = setTimeout(heartbeat, ms);
      };
      const heartbeat = (): void => {
        timer = null;
        beat = client.heartbeat(
          { sessionId },
          this.metadata(),
          { deadline: new Date(Date.now() + this.timeoutMs) },
          (err: grpc.ServiceError | null, res?: HeartbeatResponse) => {
            beat = null;
            if (done) return;
            if (err) return finish(`heartbeat to ${addr} failed: ${describeError(err)}`, err);
            schedule(res?.periodMs || periodMs);
          },
        );
      };

      /** Opens (or reopens, after a gap) the Assignments stream of this session. */
      const openAssignments = (): void => {
        const call = client.assignments({ sessionId }, this.metadata());
        this.assignmentStreams++;
        assignments = call;
        let last: string | null = null;
        const current = (): boolean => !done && assignments === call;
        call.on("data", (msg: AssignmentsMessage) => {
          if (!current()) return;
          if (isGap(last, msg)) {
            // A message went missing: only a complete set puts the node right again.
            assignments = null;
            call.cancel();
            openAssignments();
            return;
          }
          last = msg.resultsIn;
          this.emit("assignments", assignmentsEvent(msg));
        });
        call.on("error", (err: grpc.ServiceError) => {
          if (current()) finish(`assignments from ${addr} failed: ${describeError(err)}`, err);
        });
        call.on("end", () => {
          if (current()) finish(`assignments from ${addr} ended`);
        });
      };

      const sendStatuses = (updates: TaskStatusUpdate[]): Promise<void> =>
        new Promise<void>((resolveCall, rejectCall) => {
          if (done) return rejectCall(Object.assign(new Error("the session ended"), { code: grpc.status.CANCELLED }));
          const call = client.updateTaskStatus(
            { sessionId, updates },
            this.metadata(),
            { deadline: new Date(Date.now() + this.timeoutMs) },
            (err: grpc.ServiceError | null) => {
              statusCalls.delete(call);
              if (err) rejectCall(err);
              else resolveCall();
            },
          );
          statusCalls.add(call);
        });

      const onMessage = (msg: SessionMessage): void => {
        if (done) return;
        if (!established) {
          established = true;
          sessionId = msg.sessionId;
          this.lastSessionId = sessionId;
          this.current = { sessionId, manager: addr };
          this.picker.succeeded(addr);
          if (timer) clearTimeout(timer);
          periodMs = msg.heartbeatPeriodMs || DEFAULT_RPC_TIMEOUT_MS;
          schedule(periodMs);
          this.emit("session", sessionId, addr);
          if (done) return; // a listener stopped the agent
          this.reporter.attach(sendStatuses);
          this.emit("reconnected", sessionId, addr);
          if (done) return;
          openAssignments();
        }
        if (msg.heartbeatPeriodMs) periodMs = msg.heartbeatPeriodMs;
        this.picker.observe(msg.managers);
        if (!samePeers(this.lastManagers, msg.managers)) {
          this.lastManagers = msg.managers.map((p) => ({ ...p }));
          this.emit("managers", msg.managers);
        }
        if (msg.node) this.emit("node", msg.node);
        this.emit("message", msg);
      };

      this.opts.describe().then(
        (description) => {
          if (done) return;
          stream = client.session({ description, sessionId: this.lastSessionId }, this.metadata());
          stream.on("data", onMessage);
          stream.on("error", (err: grpc.ServiceError) => finish(`session with ${addr} failed: ${describeError(err)}`, err));
          stream.on("end", () => finish(`session with ${addr} ended`));
          timer = setTimeout(() => finish(`no session message from ${addr} within ${this.timeoutMs} ms`), this.timeoutMs);
        },
        (e: unknown) => finish(`cannot describe this node: ${(e as Error).message}`),
      );
    });
  }

  private metadata(): grpc.Metadata {
    return this.opts.metadata?.() ?? new grpc.Metadata();
  }
}
