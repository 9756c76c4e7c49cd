// The dispatcher: how agents hold a session with the leader. A node opens a Session stream (its
// description is written and it becomes READY), learns its session id, the managers, the heartbeat
// period and the root CA, and is sent a new message whenever its node object, the managers or the
// cluster settings change; it heartbeats at the period each answer names. A node silent for 3
// periods is DOWN; after a leader change, nodes get 6 periods (UNKNOWN until heard from). Status is
// written only on transitions, in batches. Runs on the leader only (a LeaderComponent).
//
// Assignments and UpdateTaskStatus (a later issue) hang off the same sessions: they validate the
// caller's session with `sessionOf`, and follow the store like `follow` does.
import { isIP } from "node:net";
import type { HeartbeatResponse, ManagerPeer, SessionMessage, SessionRequest } from "../../proto/gen/dispatcher.js";
import type { Cluster, Node } from "../../proto/gen/objects.js";
import { EncryptionKey, NodeState } from "../../proto/gen/types.js";
import type { LeaderComponent } from "../leader-components.js";
import { StoreError, StoreErrorCode, type MemoryStore, type StoreEvent, type Watch } from "../store/index.js";
import {
  Awaited,
  HeartbeatTracker,
  SESSION_GRACE_PERIODS,
  UNKNOWN_GRACE_PERIODS,
  jitteredPeriod,
  type Lapse,
} from "./heartbeats.js";
import { NodeStatusWriter, notMember, type StatusChange } from "./status-writer.js";

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
}

/** Delivers one message down a node's Session stream. */
export type SendSessionMessage = (msg: SessionMessage) => void;

/** A node's session with this dispatcher. */
interface Session {
  readonly id: string;
  readonly nodeId: string;
  readonly send: SendSessionMessage;
  /** The first message went out (later ones may follow). */
  started: boolean;
  /** meta.version of the node object last sent. */
  sentNodeVersion: number;
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
  watch: Watch;
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

  constructor(private readonly opts: DispatcherOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
    this.defaultPeriodMs = opts.defaultHeartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS;
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
    const run: Run = {
      sessions: new Map(),
      resumable: new Map(),
      tracker: new HeartbeatTracker(),
      writer: new NodeStatusWriter({ store: this.opts.store, onError: (e) => this.opts.onError?.(e) }),
      // Opened before the nodes are read, so no change falls between the two.
      watch: this.opts.store.watch({ kinds: ["node", "cluster"] }),
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
    const s: Session = { id, nodeId, send, started: false, sentNodeVersion: 0, ended: false, end: () => {} };
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
        run.watch = this.opts.store.watch({ kinds: ["node", "cluster"] });
        run.cluster = this.readCluster();
        this.broadcast(run);
      }
    }
  }

  private onEvent(run: Run, e: StoreEvent): void {
    if (e.type === "commit") return;
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
}
