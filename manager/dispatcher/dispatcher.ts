// The dispatcher: how agents hold a session with the leader. A node opens a Session stream (its
// description is written and it becomes READY), learns its session id, the managers, the heartbeat
// period and the root CA, and is sent a new message whenever its node object, the managers or the
// cluster settings change; it heartbeats at the period each answer names. A node silent for 3
// periods is DOWN; after a leader change, nodes get 6 periods (UNKNOWN until heard from). Status is
// written only on transitions, in batches. Runs on the leader only (a LeaderComponent).
//
// Assignments and UpdateTaskStatus hang off the same sessions. A node's Assignments stream gets a
// complete set (its tasks from ASSIGNED on, with the secrets and configs they use), then incremental
// changes: the first two messages of a 100 ms batch window go out on the next turn of the event
// loop, later changes collect until the window ends (or 100 changes), so a quiet node waits for
// nothing and a busy one still gets one message per window; one store watch serves every stream,
// and each task event goes only to the stream of the task's node. Task statuses are checked
// (the caller's own tasks only) and written in batches by the TaskStatusWriter.
import { isIP } from "node:net";
import {
  AssignmentsType,
  type AssignmentsMessage,
  type HeartbeatResponse,
  type ManagerPeer,
  type SessionMessage,
  type SessionRequest,
  type TaskStatusUpdate,
} from "../../proto/gen/dispatcher.js";
import type { Cluster, Config, Node, Secret, Task } from "../../proto/gen/objects.js";
import { EncryptionKey, NodeState } from "../../proto/gen/types.js";
import type { LeaderComponent } from "../leader-components.js";
import { StoreError, StoreErrorCode, type MemoryStore, type ReadView, type StoreEvent, type Watch, type WatchOptions } from "../store/index.js";
import { ASSIGNMENT_BATCH_LIMIT, ASSIGNMENT_BATCH_MS, ASSIGNMENT_BURST, AssignmentSet, type DependencyLookup } from "./assignments.js";
import { DispatcherError, DispatcherErrorCode } from "./errors.js";
import {
  Awaited,
  HeartbeatTracker,
  SESSION_GRACE_PERIODS,
  UNKNOWN_GRACE_PERIODS,
  jitteredPeriod,
  type Lapse,
} from "./heartbeats.js";
import { NodeStatusWriter, notMember, type StatusChange } from "./status-writer.js";
import { TaskStatusWriter, type TaskStatusReport } from "./task-status-writer.js";

/** Heartbeat period when the cluster sets none (SwarmKit: 5 s). */
export const DEFAULT_HEARTBEAT_PERIOD_MS = 5_000;

/** Status messages the dispatcher writes. */
export const StatusMessage = {
  HeartbeatFailure: "heartbeat failure",
  UnknownHeartbeatFailure: 'heartbeat failure for node in "unknown" state',
  LeaderChanged: 'node moved to "unknown" state due to leadership change in cluster',
} as const;

export interface DispatcherOptions {
  store: MemoryStore;
  /** The managers and which one leads, as agents should see them (supplied by the daemon). */
  managers: () => ManagerPeer[];
  /** A monotonic clock in ms for heartbeat deadlines. Default performance.now. */
  now?: () => number;
  /** Random numbers in [0, 1) for session ids and period jitter. Default Math.random. */
  random?: () => number;
  /** The period when the cluster object sets none (0). Default 5000. */
  defaultHeartbeatPeriodMs?: number;
  /** A status write or the store watch failed (for the daemon's log). The dispatcher carries on. */
  onError?: (e: Error) => void;
  /** This manager's node id, stamped as applied_by on the task statuses it writes. Default "". */
  nodeId?: string;
  /** Milliseconds since the Unix epoch, stamped as applied_at on task statuses. Default Date.now. */
  wallClock?: () => number;
  /**
   * The batch window of an Assignments stream: its first ASSIGNMENT_BURST (2) messages go out at
   * once, later changes wait for its end. Default 100 ms (SwarmKit's batching wait).
   */
  assignmentBatchMs?: number;
  /** Changes that make an incremental message go out at once. Default 100 (SwarmKit's). */
  assignmentBatchLimit?: number;
}

/** Delivers one message down a node's Session stream. */
export type SendSessionMessage = (msg: SessionMessage) => void;

/** Delivers one message down a node's Assignments stream. */
export type SendAssignmentsMessage = (msg: AssignmentsMessage) => void;

/** A node's Assignments stream: what it was sent, and the changes not sent yet. */
interface AssignmentStream {
  readonly nodeId: string;
  readonly send: SendAssignmentsMessage;
  /** Prefix of this stream's sequence ids. */
  readonly token: string;
  set: AssignmentSet;
  /** The store version the set reflects: task events at or below it are in it already. */
  version: number;
  /** Messages sent; the last one resulted in `${token}.${sequence}`. */
  sequence: number;
  /** When (now()) the current batch window opened: by a message sent while none was open. */
  windowStartedAt: number;
  /** Messages sent in the current window; from ASSIGNMENT_BURST on, changes wait for its end. */
  windowSends: number;
  /** Cancels the flush to come (on the next turn, or at the window's end); null when none is due. */
  cancelFlush: (() => void) | null;
  ended: boolean;
  /** Ends the assignments() call: resolves on null, rejects with the error otherwise. */
  end(err: Error | null): void;
}

/** A node's session with this dispatcher. */
interface Session {
  readonly id: string;
  readonly nodeId: string;
  readonly send: SendSessionMessage;
  /** The first message went out (later ones may follow). */
  started: boolean;
  /** meta.version of the node object last sent. */
  sentNodeVersion: number;
  /** The node's open Assignments stream, if any (it ends with the session). */
  assignments: AssignmentStream | null;
  ended: boolean;
  /** Ends the session() call: resolves on null, rejects with the error otherwise. */
  end(err: Error | null): void;
}

/** The cluster settings that session messages carry. */
interface ClusterView {
  periodMs: number;
  rootCa: Buffer;
  networkKeys: EncryptionKey[];
}

/** What exists only while the dispatcher runs; a restart starts from nothing. */
interface Run {
  readonly sessions: Map<string, Session>;
  /** Session ids of streams that ended without a lapse, by node: a reconnect naming one resumes it. */
  readonly resumable: Map<string, string>;
  readonly tracker: HeartbeatTracker;
  readonly writer: NodeStatusWriter;
  readonly taskWriter: TaskStatusWriter;
  watch: Watch;
  /** Assignments streams opened so far (names their sequence ids). */
  streams: number;
  cluster: ClusterView;
  managers: ManagerPeer[];
  timer: NodeJS.Timeout | null;
  armedAt: number;
  lastSweep: number;
}

const SESSION_ID_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz";

/** The IP address in a gRPC peer string ("10.0.0.5:41234", "::1:41234", "[::1]:41234", "ipv4:…"); "" when there is none. */
export function peerIp(peer: string): string {
  let a = peer.trim().replace(/^ipv[46]:/, "");
  if (a.startsWith("[")) a = a.slice(1, a.indexOf("]") > 0 ? a.indexOf("]") : undefined);
  else if (!isIP(a) && a.includes(":")) a = a.slice(0, a.lastIndexOf(":"));
  if (!isIP(a)) return "";
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return mapped ? mapped[1]! : a;
}

function samePeers(a: ManagerPeer[], b: ManagerPeer[]): boolean {
  return a.length === b.length && a.every((p, i) => p.nodeId === b[i]!.nodeId && p.addr === b[i]!.addr && p.leader === b[i]!.leader);
}

function sameKeys(a: EncryptionKey[], b: EncryptionKey[]): boolean {
  const enc = (k: EncryptionKey[]): string => k.map((x) => Buffer.from(EncryptionKey.encode(x).finish()).toString("base64")).join(",");
  return a.length === b.length && enc(a) === enc(b);
}

const versionOf = (n: Node): number => n.meta?.version?.index ?? 0;

/** Sessions and heartbeats of every node, on the leader. */
export class Dispatcher implements LeaderComponent {
  readonly name = "dispatcher";
  private run: Run | null = null;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly defaultPeriodMs: number;
  private readonly batchMs: number;
  private readonly batchLimit: number;

  constructor(private readonly opts: DispatcherOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.defaultPeriodMs = opts.defaultHeartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS;
    this.batchMs = opts.assignmentBatchMs ?? ASSIGNMENT_BATCH_MS;
    this.batchLimit = Math.max(1, opts.assignmentBatchLimit ?? ASSIGNMENT_BATCH_LIMIT);
  }

  /** Whether the dispatcher serves sessions now (between start and stop). */
  get running(): boolean {
    return this.run !== null;
  }

  /** The heartbeat period in force (the cluster's, or the default). */
  get heartbeatPeriodMs(): number {
    return this.run?.cluster.periodMs ?? this.readCluster().periodMs;
  }

  /** What the dispatcher awaits from a node: a heartbeat of its session, a first session (unknown), or nothing. */
  awaiting(nodeId: string): Awaited | undefined {
    return this.run?.tracker.awaited(nodeId);
  }

  /** Node ids with an open session. */
  sessionNodes(): string[] {
    return [...(this.run?.sessions.keys() ?? [])].sort();
  }

  /**
   * Starts serving: every node in the store that is not DOWN becomes UNKNOWN and gets 6 periods to
   * open a session before it is DOWN. Stops by itself when `signal` aborts.
   */
  start(signal: AbortSignal): void {
    if (this.run || signal.aborted) return;
    const sessions = new Map<string, Session>();
    const run: Run = {
      sessions,
      resumable: new Map(),
      tracker: new HeartbeatTracker(),
      writer: new NodeStatusWriter({ store: this.opts.store, onError: (e) => this.opts.onError?.(e) }),
      taskWriter: new TaskStatusWriter({
        store: this.opts.store,
        appliedBy: this.opts.nodeId ?? "",
        wallClock: this.opts.wallClock ?? Date.now,
        onError: (e) => this.opts.onError?.(e),
      }),
      // Opened before the nodes are read, so no change falls between the two.
      watch: this.opts.store.watch(watchOptions(sessions)),
      streams: 0,
      cluster: this.readCluster(),
      managers: this.opts.managers(),
      timer: null,
      armedAt: Infinity,
      lastSweep: -Infinity,
    };
    this.run = run;
    const deadline = this.now() + UNKNOWN_GRACE_PERIODS * run.cluster.periodMs;
    const nodes = this.opts.store.view((r) => r.list("node")) as unknown as Node[];
    for (const n of nodes) {
      if (n.status?.state === NodeState.NODE_STATE_DOWN) continue;
      run.tracker.expect(n.id, deadline, Awaited.Unknown);
      this.write(run, n.id, { state: NodeState.NODE_STATE_UNKNOWN, message: StatusMessage.LeaderChanged });
    }
    this.arm(run, deadline);
    void this.follow(run);
    signal.addEventListener(
      "abort",
      () => {
        if (this.run === run) this.stop();
      },
      { once: true },
    );
  }

  /** Stops serving: every session stream ends with UNAVAILABLE so agents reconnect (to the new leader). */
  stop(): void {
    const run = this.run;
    if (!run) return;
    this.run = null;
    if (run.timer) clearTimeout(run.timer);
    run.watch.close();
    const err = new StoreError(StoreErrorCode.Unavailable, "dispatcher stopped: leadership moved");
    for (const s of run.sessions.values()) s.end(err);
    run.sessions.clear();
    run.tracker.clear();
    run.writer.close(err);
    run.taskWriter.close(err);
  }

  /**
   * Serves a node's Session stream until it ends. Refuses a node the store does not have. Writes the
   * node's description and READY with `remoteAddr`'s IP, sends the first message, then one on every
   * change of the node, the managers or the cluster settings. A newer session of the same node ends
   * this one. Resolves when `signal` aborts (the stream went away; the node's heartbeats then lapse);
   * rejects with a StoreError when the dispatcher ends it (stop, replaced, lapsed, node removed).
   */
  async session(nodeId: string, remoteAddr: string, req: SessionRequest, send: SendSessionMessage, signal: AbortSignal): Promise<void> {
    const run = this.requireRun();
    if (!this.opts.store.view((r) => r.get("node", nodeId))) throw notMember(nodeId);
    if (signal.aborted) return;
    const resumed = req.sessionId !== "" && (run.resumable.get(nodeId) ?? run.sessions.get(nodeId)?.id) === req.sessionId;
    const s = this.open(run, nodeId, resumed ? req.sessionId : this.newSessionId(), send);
    const done = new Promise<void>((resolve, reject) => {
      s.end = (err) => {
        if (s.ended) return;
        s.ended = true;
        signal.removeEventListener("abort", onAbort);
        if (run.sessions.get(nodeId) === s) run.sessions.delete(nodeId);
        s.assignments?.end(err ?? new StoreError(StoreErrorCode.NotFound, `session ${s.id} of node ${nodeId} ended (reconnect)`));
        if (err) reject(err);
        else resolve();
      };
    });
    done.catch(() => {}); // the caller gets the rejection; this only keeps it from counting as unhandled meanwhile
    const onAbort = (): void => {
      if (run.sessions.get(nodeId) === s) run.resumable.set(nodeId, s.id);
      s.end(null);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await run.writer.set(nodeId, {
        state: NodeState.NODE_STATE_READY,
        message: "",
        addr: peerIp(remoteAddr),
        description: req.description,
      });
    } catch (e) {
      if (!s.ended && e instanceof StoreError && e.code === StoreErrorCode.NotFound) run.tracker.forget(nodeId);
      s.end(e instanceof Error ? e : new Error(String(e)));
      return done;
    }
    if (!s.ended) this.sendTo(run, s);
    return done;
  }

  /**
   * Keeps a session alive. Returns the period to beat at next (the configured one, ±10 %); the node
   * is DOWN if nothing comes within 3 of those. Throws NOT_FOUND for a session that is not the
   * node's current one (stale, replaced or lapsed): the agent must open a new session.
   */
  heartbeat(nodeId: string, sessionId: string): HeartbeatResponse {
    const run = this.requireRun();
    this.sessionOf(run, nodeId, sessionId);
    const periodMs = jitteredPeriod(run.cluster.periodMs, this.random);
    this.expectBeat(run, nodeId, periodMs);
    return { periodMs };
  }

  /**
   * Serves a node's Assignments stream: a complete set first (the node's tasks from ASSIGNED on, with
   * the secrets, their values included, and the configs they reference), then incremental changes:
   * the first two messages of a batch window (`assignmentBatchMs`, opened by a message sent while
   * none is open) go out on the next turn of the event loop; later changes wait for the window's
   * end, or until `assignmentBatchLimit` are collected. Each message's
   * `appliesTo` is the `resultsIn` of the one before. Rejects with NOT_FOUND at once when `sessionId`
   * is not the node's current session. Resolves when `signal` aborts; rejects when the dispatcher
   * ends it (the session ended, a newer Assignments stream of the node, stop).
   */
  async assignments(nodeId: string, sessionId: string, send: SendAssignmentsMessage, signal: AbortSignal): Promise<void> {
    const run = this.requireRun();
    const s = this.sessionOf(run, nodeId, sessionId);
    if (signal.aborted) return;
    const a: AssignmentStream = {
      nodeId,
      send,
      token: `${++run.streams}`,
      set: new AssignmentSet(nodeId),
      version: 0,
      sequence: 0,
      windowStartedAt: -Infinity,
      windowSends: 0,
      cancelFlush: null,
      ended: false,
      end: () => {},
    };
    const done = new Promise<void>((resolve, reject) => {
      a.end = (err) => {
        if (a.ended) return;
        a.ended = true;
        clearFlush(a);
        signal.removeEventListener("abort", onAbort);
        if (s.assignments === a) s.assignments = null;
        if (err) reject(err);
        else resolve();
      };
    });
    done.catch(() => {}); // see session()
    const onAbort = (): void => a.end(null);
    signal.addEventListener("abort", onAbort, { once: true });
    const old = s.assignments;
    s.assignments = a;
    old?.end(new StoreError(StoreErrorCode.Unavailable, `assignments stream of node ${nodeId} was replaced by a newer one`));
    this.sendComplete(a);
    return done;
  }

  /**
   * Takes task statuses from a node's agent and resolves once they are committed (or dropped: a
   * lower state than the stored one, the same status, a task deleted meanwhile). Throws NOT_FOUND
   * when `sessionId` is not the node's current session, and PERMISSION_DENIED naming the tasks when
   * any of them is on another node; then nothing of the request is written.
   */
  async updateTaskStatus(nodeId: string, sessionId: string, updates: TaskStatusUpdate[]): Promise<void> {
    const run = this.requireRun();
    this.sessionOf(run, nodeId, sessionId);
    const reports: TaskStatusReport[] = [];
    const foreign: string[] = [];
    this.opts.store.view((r) => {
      for (const u of updates) {
        if (!u.status) continue;
        const t = r.get("task", u.taskId) as unknown as Task | undefined;
        if (!t) continue; // deleted meanwhile (SwarmKit skips these too)
        if (t.nodeId !== nodeId) foreign.push(u.taskId);
        else reports.push({ taskId: u.taskId, nodeId, status: u.status });
      }
    });
    if (foreign.length > 0) {
      const shown = foreign.length > 10 ? `${foreign.slice(0, 10).join(", ")} and ${foreign.length - 10} more` : foreign.join(", ");
      throw new DispatcherError(
        DispatcherErrorCode.PermissionDenied,
        `node ${nodeId} cannot update the status of tasks not assigned to it: ${shown}; nothing was written`,
      );
    }
    await run.taskWriter.set(reports);
  }

  /** The managers (or the leader) changed: sends the new list to every session if it differs. */
  managersChanged(): void {
    const run = this.run;
    if (!run) return;
    const managers = this.opts.managers();
    if (samePeers(managers, run.managers)) return;
    run.managers = managers;
    this.broadcast(run);
  }

  /**
   * Marks DOWN every node whose deadline passed. The dispatcher's own timer calls it; tests that
   * drive a fake clock call it after moving the clock.
   */
  checkHeartbeats(): void {
    const run = this.run;
    if (!run) return;
    if (run.timer) clearTimeout(run.timer);
    run.timer = null;
    run.armedAt = Infinity;
    const now = this.now();
    run.lastSweep = now;
    for (const lapse of run.tracker.lapsed(now)) this.lapse(run, lapse);
    const next = run.tracker.next();
    if (next !== undefined) this.arm(run, next);
  }

  // ---- sessions ----

  private requireRun(): Run {
    if (!this.run) throw new StoreError(StoreErrorCode.Unavailable, "the dispatcher is not running on this manager (not the leader)");
    return this.run;
  }

  /** The node's current session if it has id `sessionId`; throws NOT_FOUND otherwise. */
  private sessionOf(run: Run, nodeId: string, sessionId: string): Session {
    const s = run.sessions.get(nodeId);
    if (!s || s.id !== sessionId || !s.started) {
      throw new StoreError(StoreErrorCode.NotFound, `session ${sessionId || '""'} of node ${nodeId} is not valid (reconnect)`);
    }
    return s;
  }

  private open(run: Run, nodeId: string, id: string, send: SendSessionMessage): Session {
    const s: Session = { id, nodeId, send, started: false, sentNodeVersion: 0, assignments: null, ended: false, end: () => {} };
    const old = run.sessions.get(nodeId);
    run.sessions.set(nodeId, s);
    run.resumable.delete(nodeId);
    old?.end(new StoreError(StoreErrorCode.Unavailable, `session ${old.id} of node ${nodeId} was replaced by a newer session`));
    this.expectBeat(run, nodeId, jitteredPeriod(run.cluster.periodMs, this.random));
    return s;
  }

  private newSessionId(): string {
    let id = "";
    for (let i = 0; i < 20; i++) id += SESSION_ID_CHARS[Math.floor(this.random() * SESSION_ID_CHARS.length)];
    return id;
  }

  /** Sends the session its current message (node as stored now). */
  private sendTo(run: Run, s: Session): void {
    const node = this.opts.store.view((r) => r.get("node", s.nodeId)) as unknown as Node | undefined;
    if (!node) return; // being removed: the remove event ends the session
    const msg: SessionMessage = {
      sessionId: s.id,
      node,
      managers: run.managers,
      heartbeatPeriodMs: run.cluster.periodMs,
      networkBootstrapKeys: run.cluster.networkKeys,
      rootCa: run.cluster.rootCa,
    };
    try {
      s.send(msg);
    } catch (e) {
      s.end(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    s.started = true;
    s.sentNodeVersion = versionOf(node);
  }

  private broadcast(run: Run): void {
    for (const s of [...run.sessions.values()]) if (s.started) this.sendTo(run, s);
  }

  // ---- heartbeats ----

  private expectBeat(run: Run, nodeId: string, periodMs: number): void {
    const at = this.now() + SESSION_GRACE_PERIODS * periodMs;
    run.tracker.expect(nodeId, at, Awaited.Session);
    this.arm(run, at);
  }

  /** Makes sure the timer fires by `at`, but no sooner than a quarter period after the last sweep (lapses close together go in one batch). */
  private arm(run: Run, at: number): void {
    const when = Math.max(at, run.lastSweep + run.cluster.periodMs / 4);
    if (run.timer && run.armedAt <= when) return;
    if (run.timer) clearTimeout(run.timer);
    run.armedAt = when;
    run.timer = setTimeout(() => this.checkHeartbeats(), Math.max(0, when - this.now()));
    run.timer.unref();
  }

  private lapse(run: Run, { nodeId, awaited }: Lapse): void {
    if (awaited === Awaited.Unknown) {
      this.write(run, nodeId, { state: NodeState.NODE_STATE_DOWN, message: StatusMessage.UnknownHeartbeatFailure });
      return;
    }
    run.resumable.delete(nodeId);
    const s = run.sessions.get(nodeId);
    s?.end(new StoreError(StoreErrorCode.Unavailable, `session ${s.id} of node ${nodeId} expired: no heartbeat for ${SESSION_GRACE_PERIODS} periods`));
    this.write(run, nodeId, { state: NodeState.NODE_STATE_DOWN, message: StatusMessage.HeartbeatFailure });
  }

  /** Queues a status write whose outcome nobody waits for (failures go to onError). */
  private write(run: Run, nodeId: string, change: StatusChange): void {
    run.writer.set(nodeId, change).catch(() => {});
  }

  // ---- following the store ----

  private readCluster(): ClusterView {
    const c = this.opts.store.view((r) => r.list("cluster")[0]) as unknown as Cluster | undefined;
    return {
      periodMs: c?.spec?.dispatcher?.heartbeatPeriodMs || this.defaultPeriodMs,
      rootCa: Buffer.from(c?.rootCa?.caCert ?? Buffer.alloc(0)),
      networkKeys: c?.networkBootstrapKeys ?? [],
    };
  }

  private async follow(run: Run): Promise<void> {
    while (this.run === run) {
      try {
        for await (const e of run.watch) {
          if (this.run !== run) return;
          this.onEvent(run, e);
        }
        return; // closed by stop()
      } catch (e) {
        if (this.run !== run) return;
        // The watch fell behind or the store was replaced by a snapshot: reopen and resend everything.
        this.opts.onError?.(e instanceof Error ? e : new Error(String(e)));
        run.watch = this.opts.store.watch(watchOptions(run.sessions));
        run.cluster = this.readCluster();
        this.broadcast(run);
        // Task events were lost too: every Assignments stream starts over with a complete set.
        for (const s of [...run.sessions.values()]) if (s.assignments) this.sendComplete(s.assignments);
      }
    }
  }

  private onEvent(run: Run, e: StoreEvent): void {
    if (e.type === "commit") return;
    if (e.kind === "task") {
      this.onTaskEvent(run, e);
      return;
    }
    if (e.kind === "cluster") {
      const next = this.readCluster();
      const cur = run.cluster;
      if (next.periodMs === cur.periodMs && next.rootCa.equals(cur.rootCa) && sameKeys(next.networkKeys, cur.networkKeys)) return;
      run.cluster = next;
      this.broadcast(run);
      return;
    }
    if (e.type === "remove") {
      const id = e.old.id;
      run.tracker.forget(id);
      run.resumable.delete(id);
      run.sessions.get(id)?.end(new StoreError(StoreErrorCode.NotFound, `node ${id} was removed from the cluster`));
      return;
    }
    const id = e.object.id;
    const s = run.sessions.get(id);
    if (e.type === "create") {
      // Joined just now (the CA created it): it gets the same grace as a node not heard from yet.
      if (!s && run.tracker.awaited(id) === undefined) {
        const at = this.now() + UNKNOWN_GRACE_PERIODS * run.cluster.periodMs;
        run.tracker.expect(id, at, Awaited.Unknown);
        this.arm(run, at);
      }
      return;
    }
    if (s?.started && e.version > s.sentNodeVersion) this.sendTo(run, s);
  }

  // ---- assignments ----

  /** Rebuilds the stream's set from the store and sends it as a complete set. */
  private sendComplete(a: AssignmentStream): void {
    clearFlush(a);
    a.set = new AssignmentSet(a.nodeId);
    this.opts.store.view((r) => {
      a.version = r.version;
      const lookup = dependencyLookup(r);
      for (const t of r.find("task", "node", a.nodeId) as unknown as Task[]) a.set.addOrUpdateTask(t, lookup);
    });
    this.sendAssignments(a, AssignmentsType.ASSIGNMENTS_TYPE_COMPLETE);
  }

  /** Sends the set's changes; `waited` says they were held to a window's end (load: the next window sends nothing at once). */
  private sendAssignments(a: AssignmentStream, type: AssignmentsType, waited = false): void {
    const appliesTo = a.sequence === 0 ? "" : `${a.token}.${a.sequence}`;
    a.sequence++;
    const now = this.now();
    if (now >= a.windowStartedAt + this.batchMs) {
      a.windowStartedAt = now;
      a.windowSends = waited ? ASSIGNMENT_BURST : 1;
    } else {
      a.windowSends++;
    }
    try {
      a.send({ type, appliesTo, resultsIn: `${a.token}.${a.sequence}`, changes: a.set.takeChanges() });
    } catch (e) {
      a.end(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Sends the changes collected so far, if any. */
  private flush(a: AssignmentStream, waited = false): void {
    clearFlush(a);
    if (a.ended || a.set.pending === 0) return;
    this.sendAssignments(a, AssignmentsType.ASSIGNMENTS_TYPE_INCREMENTAL, waited);
  }

  /** A task changed: only the streams of its node (before and after) hear of it. */
  private onTaskEvent(run: Run, e: Exclude<StoreEvent, { type: "commit" }>): void {
    const before = e.type === "create" ? undefined : (e.old as unknown as Task);
    const after = e.type === "remove" ? undefined : (e.object as unknown as Task);
    for (const nodeId of new Set([before?.nodeId, after?.nodeId])) {
      if (!nodeId) continue;
      const a = run.sessions.get(nodeId)?.assignments;
      if (!a || e.version <= a.version) continue;
      const changed =
        after && after.nodeId === nodeId
          ? this.opts.store.view((r) => a.set.addOrUpdateTask(after, dependencyLookup(r)))
          : a.set.removeTask((before ?? after)!.id);
      if (!changed) continue;
      if (a.set.pending >= this.batchLimit) this.flush(a);
      else this.scheduleFlush(a);
    }
  }

  /**
   * Makes sure the collected changes go out: on the next turn of the event loop (after the rest of
   * this store commit) while the window has sent fewer than ASSIGNMENT_BURST messages or is over,
   * else at its end. A flush already due takes them along.
   */
  private scheduleFlush(a: AssignmentStream): void {
    if (a.cancelFlush) return;
    const waitMs = a.windowSends < ASSIGNMENT_BURST ? 0 : a.windowStartedAt + this.batchMs - this.now();
    if (waitMs <= 0) {
      const immediate = setImmediate(() => this.flush(a));
      a.cancelFlush = () => clearImmediate(immediate);
      return;
    }
    const timer = setTimeout(() => this.flush(a, true), waitMs);
    timer.unref();
    a.cancelFlush = () => clearTimeout(timer);
  }
}

function clearFlush(a: AssignmentStream): void {
  a.cancelFlush?.();
  a.cancelFlush = null;
}

/** Node and cluster events, and task events of nodes with an Assignments stream (filtered as they are published). */
function watchOptions(sessions: Map<string, Session>): WatchOptions {
  const streaming = (t: Task | undefined): boolean => !!t?.nodeId && !!sessions.get(t.nodeId)?.assignments;
  return {
    kinds: ["node", "cluster", "task"],
    filter: (e) => {
      if (e.type === "commit" || e.kind !== "task") return true;
      if (e.type !== "create" && streaming(e.old as unknown as Task)) return true;
      return e.type !== "remove" && streaming(e.object as unknown as Task);
    },
  };
}

function dependencyLookup(r: ReadView): DependencyLookup {
  return {
    secret: (id) => r.get("secret", id) as unknown as Secret | undefined,
    config: (id) => r.get("config", id) as unknown as Config | undefined,
  };
}
