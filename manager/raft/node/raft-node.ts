// The Raft driver: runs the pure core with real time, disk and network. It turns timers into ticks,
// handles each Ready in order (persist with one synced write, send, apply, advance), resolves each
// proposal's promise once it is applied, and manages membership by address.
import { EventEmitter } from "node:events";
import { randomInt } from "node:crypto";
import {
  ConfChangeType,
  EntryType,
  MemoryStorage,
  NONE,
  RawNode,
  decodeConfChange,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type RaftStatus,
  type ReadState,
  type Ready,
  type Snapshot,
  type SoftState,
} from "../core/index.js";
import { majority } from "../core/quorum.js";
import { RaftDiskStorage } from "../storage/index.js";
import { RaftTransport, type TransportStats } from "../transport/index.js";
import {
  RaftInvalidRequestError,
  RaftNotLeaderError,
  RaftProposalLostError,
  RaftStoppedError,
  RaftTimeoutError,
} from "./errors.js";
import { LatencyWindow } from "./latency.js";
import {
  decodeMemberContext,
  decodeMembers,
  encodeMemberContext,
  encodeMembers,
  unwrapSnapshot,
  wrapSnapshot,
  type Member,
} from "./members.js";
import { forceNewCluster } from "./force-new-cluster.js";
import { RAFT_DEFAULTS, type RaftNodeOptions } from "./options.js";

/**
 * How a node with an empty data directory starts (ignored when the directory holds state), or
 * `forceNewCluster`: a member with state rebuilds a one-member cluster from it.
 */
export type RaftInit = { bootstrap: { addr: string } } | { join: { members: Member[] } } | { forceNewCluster: true };

interface PendingProposal {
  term: number;
  startedAt: number;
  deadline: number;
  resolve(result: unknown): void;
  reject(err: Error): void;
}

interface QueuedProposal {
  data: Uint8Array;
  startedAt: number;
  conf?: ConfChange;
  resolve(result: unknown): void;
  reject(err: Error): void;
}

interface PendingRead {
  deadline: number;
  index: number | null;
  resolve(): void;
  reject(err: Error): void;
}

/** Figures for metrics and `swarm info`. */
export interface RaftNodeStatus extends RaftStatus {
  leaderAddr: string | null;
  members: Member[];
  snapshotIndex: number;
  proposalsApplied: number;
  proposalsFailed: number;
  proposalsPending: number;
  commitLatencyMs: { p50: number; p99: number };
  transport: TransportStats;
}

const META_MEMBERS = "members";
/** Stored entries deleted per batch when the log is compacted after a snapshot. */
const COMPACT_SLICE = 500;

export class RaftNode extends EventEmitter {
  readonly id: NodeId;
  readonly transport: RaftTransport;
  private readonly opts: Required<Omit<RaftNodeOptions, "channelOptions" | "encryptor" | "seed">> & RaftNodeOptions;
  private raw!: RawNode;
  private readonly mem: MemoryStorage;
  private readonly members = new Map<NodeId, string>();
  private confState: ConfState = { voters: [], learners: [] };
  private appliedIndex = 0;
  private lead: NodeId = NONE;
  private role: SoftState["state"] = "follower";
  private queue: QueuedProposal[] = [];
  private readonly pending = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private readSeq = 0;
  private readonly promoting = new Set<NodeId>();
  private ticker: NodeJS.Timeout | null = null;
  private loopRunning = false;
  private loopScheduled = false;
  private loopDone: Promise<void> = Promise.resolve();
  private stopped = false;
  private removed = false;
  private readonly latency = new LatencyWindow();

  /** The index of the newest snapshot, which the in-memory log always holds. */
  private get snapshotIndex(): number {
    return this.mem.snapshot().meta.index;
  }
  private snapshotting = false;
  private snapshotDone: Promise<void> = Promise.resolve();
  private proposalsApplied = 0;
  private proposalsFailed = 0;

  private constructor(
    opts: RaftNodeOptions,
    private readonly storage: RaftDiskStorage,
    mem: MemoryStorage,
  ) {
    super();
    this.id = opts.id;
    this.opts = { ...RAFT_DEFAULTS, ...opts };
    this.mem = mem;
    this.transport = new RaftTransport({
      clusterId: opts.clusterId,
      localId: opts.id,
      clientCredentials: opts.clientCredentials,
      ...(opts.channelOptions ? { channelOptions: opts.channelOptions } : {}),
      maxMessageBytes: this.opts.maxMessageBytes,
      isMember: (id) => this.members.has(id),
      onMessage: (m) => this.onMessage(m),
      onUnreachable: (id) => this.onUnreachable(id),
      onSnapshotStatus: (id, ok) => {
        this.raw.reportSnapshot(id, ok);
        this.schedule();
      },
    });
  }

  /**
   * Opens the data directory and recovers from snapshot plus log. With an empty directory, `init`
   * says whether to found a new cluster or to wait to be added to an existing one.
   */
  static async open(opts: RaftNodeOptions, init?: RaftInit): Promise<RaftNode> {
    const storage = await RaftDiskStorage.open(opts.dataDir, opts.encryptor ? { encryptor: opts.encryptor } : {});
    try {
      let loaded = await storage.load();
      if (init && "forceNewCluster" in init) loaded = await forceNewCluster(storage, loaded, opts.id);
      const fresh = loaded.snapshot === null && loaded.entries.length === 0 && loaded.hardState.term === 0;
      if (fresh && init && "bootstrap" in init) {
        const voters = { voters: [opts.id], learners: [] };
        const snap: Snapshot = {
          meta: { index: 1, term: 1, confState: voters },
          data: wrapSnapshot([{ id: opts.id, addr: init.bootstrap.addr }], opts.stateMachine.snapshot()),
        };
        const hardState = { term: 1, vote: NONE, commit: 1 };
        await storage.save({ hardState, entries: [], snapshot: snap });
        loaded.snapshot = snap;
        loaded.hardState = hardState;
      }
      const mem = new MemoryStorage();
      if (loaded.snapshot) mem.applySnapshot(loaded.snapshot);
      mem.append(loaded.entries);
      mem.setHardState(loaded.hardState);
      const node = new RaftNode(opts, storage, mem);
      await node.recover(loaded.snapshot, fresh && init && "join" in init ? init.join.members : []);
      return node;
    } catch (e) {
      await storage.close().catch(() => undefined);
      throw e;
    }
  }

  private async recover(snapshot: Snapshot | null, joinMembers: Member[]): Promise<void> {
    if (snapshot) {
      const { members, app } = unwrapSnapshot(snapshot.data);
      for (const m of members) this.members.set(m.id, m.addr);
      this.opts.stateMachine.restore(app, snapshot.meta.index);
      this.confState = snapshot.meta.confState;
      this.appliedIndex = snapshot.meta.index;
    }
    const saved = await this.storage.loadMeta(META_MEMBERS);
    if (saved) for (const m of decodeMembers(saved)) this.members.set(m.id, m.addr);
    if (joinMembers.length) {
      for (const m of joinMembers) this.members.set(m.id, m.addr);
      await this.saveMembers();
    }
    this.raw = new RawNode({
      id: this.id,
      storage: this.mem,
      seed: this.opts.seed ?? randomInt(2 ** 31),
      electionTick: this.opts.electionTick,
      heartbeatTick: this.opts.heartbeatTick,
      applied: this.appliedIndex,
      maxSizePerMsg: Math.min(1 << 20, this.opts.maxMessageBytes / 4),
    });
    for (const [id, addr] of this.members) if (id !== this.id) this.transport.addPeer(id, addr);
  }

  /** Starts the timers. A sole voter campaigns at once instead of waiting for its election timeout. */
  start(): void {
    if (this.ticker || this.stopped) return;
    this.ticker = setInterval(() => this.onTick(), this.opts.tickMs);
    const cs = this.raw.status().confState;
    if (cs.voters.length === 1 && cs.voters[0] === this.id) this.raw.campaign();
    this.schedule();
  }

  // ---- requests ----

  /** Replicates `data`; resolves with the state machine's result once applied on this member. */
  propose(data: Uint8Array): Promise<unknown> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    if (data.length > this.opts.maxProposalBytes) {
      return Promise.reject(
        new RaftInvalidRequestError(`proposal of ${data.length} bytes exceeds the limit of ${this.opts.maxProposalBytes} bytes`),
      );
    }
    if (this.role !== "leader") return Promise.reject(this.notLeader());
    return new Promise((resolve, reject) => {
      this.queue.push({ data, startedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Waits until this member has applied everything committed before the call (linearizable read barrier). */
  read(): Promise<void> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    const seq = ++this.readSeq;
    // Unique across members: the leader merges reads that share a context.
    const ctx = new Uint8Array(16);
    new DataView(ctx.buffer).setBigUint64(0, BigInt(this.id));
    new DataView(ctx.buffer).setBigUint64(8, BigInt(seq));
    return new Promise<void>((resolve, reject) => {
      try {
        this.raw.readIndex(ctx);
      } catch (e) {
        reject(this.mapError(e));
        return;
      }
      this.reads.set(String(seq), { deadline: performance.now() + this.opts.requestTimeoutMs, index: null, resolve, reject });
      this.schedule();
    });
  }

  /** Adds a member as a learner; with `asVoter` (default) resolves once it has caught up and votes. */
  async addMember(id: NodeId, addr: string, asVoter = true): Promise<void> {
    if (id === NONE || !Number.isSafeInteger(id) || id < 0) throw new RaftInvalidRequestError(`member id ${id} is invalid`);
    if (!addr) throw new RaftInvalidRequestError(`member ${id.toString(16)} needs an address`);
    const cs = this.raw.status().confState;
    if (!cs.voters.includes(id) && !cs.learners.includes(id)) {
      await this.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: id, context: encodeMemberContext(addr) });
    }
    if (!asVoter) return;
    await this.waitFor(
      () => this.confState.voters.includes(id),
      this.opts.requestTimeoutMs * 12,
      `member ${id.toString(16)} did not catch up to become a voter`,
    );
  }

  /** Removes a member; refused when the remaining reachable voters would not form a quorum. */
  async removeMember(id: NodeId): Promise<void> {
    const st = this.raw.status();
    if (st.state !== "leader") throw this.notLeader();
    if (!st.confState.voters.includes(id) && !st.confState.learners.includes(id)) {
      throw new RaftInvalidRequestError(`member ${id.toString(16)} is not in the cluster`);
    }
    if (st.confState.voters.includes(id)) {
      const remaining = st.confState.voters.filter((v) => v !== id);
      const reachable = remaining.filter((v) => v === this.id || st.peers.find((p) => p.id === v)?.recentActive);
      if (reachable.length < majority(remaining.length)) {
        throw new RaftInvalidRequestError(
          `removing member ${id.toString(16)} would leave ${reachable.length} of ${remaining.length} remaining managers reachable, fewer than a quorum of ${majority(remaining.length)}`,
        );
      }
    }
    await this.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array(0) });
  }

  /** Hands leadership to `to` (default: the most up-to-date other voter); resolves once it leads. */
  async transferLeadership(to?: NodeId): Promise<NodeId> {
    const st = this.raw.status();
    if (st.state !== "leader") throw this.notLeader();
    const target =
      to ??
      st.peers
        .filter((p) => p.id !== this.id && !p.isLearner)
        .sort((a, b) => b.match - a.match)[0]?.id;
    if (target === undefined) throw new RaftInvalidRequestError("there is no other voter to hand leadership to");
    if (!st.confState.voters.includes(target)) throw new RaftInvalidRequestError(`member ${target.toString(16)} is not a voter`);
    this.raw.transferLeadership(target);
    this.schedule();
    await this.waitFor(
      () => this.lead === target,
      this.opts.tickMs * this.opts.electionTick * 2,
      `leadership did not move to member ${target.toString(16)}`,
    );
    return target;
  }

  private proposeConfChange(cc: ConfChange): Promise<unknown> {
    if (this.stopped) return Promise.reject(new RaftStoppedError());
    if (this.role !== "leader") return Promise.reject(this.notLeader());
    return new Promise((resolve, reject) => {
      this.queue.push({ data: new Uint8Array(0), conf: cc, startedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  private waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (cond()) done(null);
      };
      const timer = setTimeout(() => done(new RaftTimeoutError(`${what} within ${timeoutMs} ms`)), timeoutMs);
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        this.off("progress", check);
        this.off("stopped", onStop);
        if (err) reject(err);
        else resolve();
      };
      const onStop = (): void => done(new RaftStoppedError());
      this.on("progress", check);
      this.on("stopped", onStop);
    });
  }

  // ---- status ----

  isLeader(): boolean {
    return this.role === "leader";
  }

  leader(): { id: NodeId; addr: string | null } {
    return { id: this.lead, addr: this.lead ? (this.members.get(this.lead) ?? null) : null };
  }

  status(): RaftNodeStatus {
    const st = this.raw.status();
    return {
      ...st,
      leaderAddr: this.leader().addr,
      members: [...this.members].map(([id, addr]) => ({ id, addr })),
      snapshotIndex: this.snapshotIndex,
      proposalsApplied: this.proposalsApplied,
      proposalsFailed: this.proposalsFailed,
      proposalsPending: this.pending.size + this.queue.length,
      commitLatencyMs: { p50: this.latency.quantile(0.5), p99: this.latency.quantile(0.99) },
      transport: this.transport.stats(),
    };
  }

  // ---- events from timers and the network ----

  private onTick(): void {
    if (this.stopped) return;
    this.raw.tick();
    this.expireRequests();
    if (this.role === "leader") this.promoteCaughtUpLearners();
    this.schedule();
  }

  private onMessage(m: Message): void {
    if (this.stopped) return;
    try {
      this.raw.step(m);
    } catch (e) {
      this.fatal(e);
      return;
    }
    this.schedule();
  }

  private onUnreachable(id: NodeId): void {
    if (this.stopped) return;
    this.raw.reportUnreachable(id);
    if (this.opts.fastFailover && id === this.lead && this.role === "follower" && !this.transport.isConnected(id)) {
      // The connection to the leader broke (e.g. its process died): forget its lease and campaign after
      // a random delay under two ticks, so members that noticed together do not split the vote.
      // Pre-vote keeps this harmless when the leader is in fact alive: members still hearing it refuse.
      this.raw.forgetLeader();
      const delay = Math.floor(Math.random() * 2 * this.opts.tickMs);
      setTimeout(() => {
        if (this.stopped || this.role !== "follower" || this.lead !== NONE) return;
        this.raw.campaign();
        this.schedule();
      }, delay).unref();
    }
    this.schedule();
  }

  private expireRequests(): void {
    const now = performance.now();
    for (const [index, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(index);
      this.proposalsFailed++;
      p.reject(
        new RaftTimeoutError(
          `the proposal at log index ${index} was not committed within ${this.opts.requestTimeoutMs} ms: no quorum of managers answered (it may still be applied later)`,
        ),
      );
    }
    for (const [k, r] of this.reads) {
      if (r.deadline > now) continue;
      this.reads.delete(k);
      r.reject(new RaftTimeoutError(`a linearizable read found no quorum within ${this.opts.requestTimeoutMs} ms`));
    }
  }

  private promoteCaughtUpLearners(): void {
    if (this.confState.learners.length === 0) return;
    const st = this.raw.status();
    for (const p of st.peers) {
      if (!p.isLearner || this.promoting.has(p.id) || p.match < st.commit) continue;
      this.promoting.add(p.id);
      const addr = this.members.get(p.id) ?? "";
      this.proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: p.id, context: encodeMemberContext(addr) })
        .catch(() => undefined)
        .finally(() => this.promoting.delete(p.id));
    }
  }

  // ---- the Ready loop ----

  private schedule(): void {
    if (this.loopScheduled || this.stopped) return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      if (!this.loopRunning && !this.stopped) this.loopDone = this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    this.loopRunning = true;
    try {
      for (;;) {
        if (this.stopped) return;
        this.flushProposals();
        if (!this.raw.hasReady()) return;
        const rd = this.raw.ready();
        await this.handleReady(rd);
        this.raw.advance();
        await this.maybeSnapshot();
        this.emit("progress");
        if (this.removed) {
          this.emit("removed");
          void this.stop();
          return;
        }
      }
    } catch (e) {
      this.fatal(e);
    } finally {
      this.loopRunning = false;
    }
  }

  private flushProposals(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    if (this.role !== "leader") {
      for (const q of batch) q.reject(this.notLeader());
      return;
    }
    const term = this.raw.raft.term;
    const deadline = performance.now() + this.opts.requestTimeoutMs;
    const track = (q: QueuedProposal, index: number): void => {
      this.pending.set(index, { term, startedAt: q.startedAt, deadline, resolve: q.resolve, reject: q.reject });
    };
    const normal = batch.filter((q) => !q.conf);
    if (normal.length) {
      try {
        const first = this.raw.proposeBatch(normal.map((q) => q.data));
        normal.forEach((q, i) => track(q, first + i));
      } catch (e) {
        const err = this.mapError(e);
        for (const q of normal) q.reject(err);
      }
    }
    for (const q of batch) {
      if (!q.conf) continue;
      try {
        track(q, this.raw.proposeConfChange(q.conf));
      } catch (e) {
        q.reject(this.mapError(e));
      }
    }
  }

  private async handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.onSoftState(rd.softState);
    if (rd.hardState || rd.entries.length || rd.snapshot) {
      await this.storage.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot });
    }
    if (rd.snapshot) this.mem.applySnapshot(rd.snapshot);
    this.mem.append(rd.entries);
    if (rd.hardState) this.mem.setHardState(rd.hardState);
    if (rd.messages.length) this.transport.send(rd.messages);
    if (rd.snapshot) await this.installSnapshot(rd.snapshot);
    for (const e of rd.committedEntries) await this.applyEntry(e);
    for (const rs of rd.readStates) this.onReadState(rs);
    this.releaseReads();
  }

  private onSoftState(s: SoftState): void {
    const leaderChanged = s.lead !== this.lead;
    const roleChanged = s.state !== this.role;
    this.lead = s.lead;
    this.role = s.state;
    if (roleChanged) this.emit("role", s.state);
    if (leaderChanged) this.emit("leader", this.leader());
  }

  private async installSnapshot(snap: Snapshot): Promise<void> {
    const { members, app } = unwrapSnapshot(snap.data);
    this.opts.stateMachine.restore(app, snap.meta.index);
    this.setMembers(members);
    await this.saveMembers();
    this.confState = snap.meta.confState;
    this.appliedIndex = snap.meta.index;
    // Proposals at or below the snapshot may or may not be in it: their outcome is unknown here.
    for (const [index, p] of this.pending) {
      if (index > snap.meta.index) break;
      this.pending.delete(index);
      this.proposalsFailed++;
      p.reject(new RaftTimeoutError(`the outcome of the proposal at log index ${index} is unknown: this member installed a snapshot past it`));
    }
  }

  private async applyEntry(e: Entry): Promise<void> {
    if (e.index <= this.appliedIndex) return;
    let result: unknown;
    let error: Error | null = null;
    if (e.type === EntryType.ConfChange) {
      result = await this.applyConfChange(decodeConfChange(e.data));
    } else if (e.data.length > 0) {
      try {
        result = this.opts.stateMachine.apply(e.data, e.index);
      } catch (err) {
        error = err instanceof Error ? err : new Error(String(err));
      }
    }
    this.appliedIndex = e.index;
    const p = this.pending.get(e.index);
    if (!p) return;
    this.pending.delete(e.index);
    if (p.term !== e.term) {
      this.proposalsFailed++;
      p.reject(new RaftProposalLostError(e.index));
    } else if (error) {
      this.proposalsFailed++;
      p.reject(error);
    } else {
      this.proposalsApplied++;
      this.latency.record(performance.now() - p.startedAt);
      p.resolve(result);
    }
  }

  private async applyConfChange(cc: ConfChange): Promise<ConfState> {
    const addr = decodeMemberContext(cc.context);
    this.confState = this.raw.applyConfChange(cc);
    if (cc.type === ConfChangeType.RemoveNode) {
      this.members.delete(cc.nodeId);
      if (cc.nodeId === this.id) this.removed = true;
      else this.transport.removePeer(cc.nodeId);
    } else if (addr) {
      const known = this.members.get(cc.nodeId);
      this.members.set(cc.nodeId, addr);
      if (cc.nodeId !== this.id) {
        if (known === undefined) this.transport.addPeer(cc.nodeId, addr);
        else if (known !== addr) this.transport.updatePeer(cc.nodeId, addr);
      }
    }
    await this.saveMembers();
    this.emit("membership", this.confState);
    return this.confState;
  }

  private setMembers(members: Member[]): void {
    const next = new Map(members.map((m) => [m.id, m.addr]));
    for (const id of this.members.keys()) if (!next.has(id) && id !== this.id) this.transport.removePeer(id);
    for (const [id, addr] of next) {
      if (id === this.id) continue;
      const known = this.members.get(id);
      if (known === undefined) this.transport.addPeer(id, addr);
      else if (known !== addr) this.transport.updatePeer(id, addr);
    }
    this.members.clear();
    for (const [id, addr] of next) this.members.set(id, addr);
  }

  private saveMembers(): Promise<void> {
    return this.storage.saveMeta(META_MEMBERS, encodeMembers([...this.members].map(([id, addr]) => ({ id, addr }))));
  }

  private onReadState(rs: ReadState): void {
    if (rs.context.byteLength !== 16) return;
    const key = String(new DataView(rs.context.buffer, rs.context.byteOffset, rs.context.byteLength).getBigUint64(8));
    const r = this.reads.get(key);
    if (r) r.index = rs.index;
  }

  private releaseReads(): void {
    for (const [k, r] of this.reads) {
      if (r.index === null || r.index > this.appliedIndex) continue;
      this.reads.delete(k);
      r.resolve();
    }
  }

  /**
   * Whether a periodic snapshot is due. Each member snapshots at its own points of the log, spread
   * evenly over the interval by its rank among the members (phase + k·interval), so that members do
   * not snapshot together: the state machine's snapshot, the file write and the log compaction of
   * one member do not coincide with another's, and a quorum stays responsive. Consecutive snapshots
   * of a member are more than half an interval apart (and at most one and a half, when membership
   * moves its phase).
   */
  private snapshotDue(): boolean {
    const interval = this.opts.snapshotInterval;
    if (this.appliedIndex - this.snapshotIndex <= Math.floor(interval / 2)) return false;
    const ids = [...this.confState.voters, ...this.confState.learners].sort((a, b) => a - b);
    const rank = Math.max(0, ids.indexOf(this.id));
    const phase = Math.floor((rank * interval) / Math.max(1, ids.length));
    // The first of this member's points more than half an interval past its last snapshot.
    const after = this.snapshotIndex + Math.floor(interval / 2);
    const next = phase + (Math.floor((after - phase) / interval) + 1) * interval;
    return this.appliedIndex >= next;
  }

  private async maybeSnapshot(): Promise<void> {
    if (this.snapshotting || !this.snapshotDue()) return;
    if (this.appliedIndex > this.mem.lastIndex()) return;
    const index = this.appliedIndex;
    const confState = { voters: [...this.confState.voters], learners: [...this.confState.learners] };
    const members = [...this.members].map(([id, addr]) => ({ id, addr }));
    const sm = this.opts.stateMachine;
    if (!sm.snapshotAsync) {
      await this.recordSnapshot(index, confState, members, sm.snapshot());
      return;
    }
    // Encode in the background; the Ready loop keeps committing and applying meanwhile.
    this.snapshotting = true;
    this.snapshotDone = sm
      .snapshotAsync()
      .then((app) => this.recordSnapshot(index, confState, members, app))
      .catch((e: unknown) => this.fatal(e))
      .finally(() => {
        this.snapshotting = false;
      });
  }

  private async recordSnapshot(index: number, confState: ConfState, members: Member[], app: Uint8Array): Promise<void> {
    // A snapshot from the leader may have replaced the log while this one was being encoded.
    if (this.stopped || index <= this.mem.snapshot().meta.index || index > this.mem.lastIndex() || index < this.mem.firstIndex() - 1) {
      return;
    }
    const snap = this.mem.createSnapshot(index, confState, wrapSnapshot(members, app));
    try {
      await this.storage.saveSnapshot(snap);
    } catch (e) {
      if ((e as { code?: string }).code === "RAFT_STORAGE_INVALID_SNAPSHOT") return; // overtaken by a newer one on disk
      throw e;
    }
    const compactTo = index - this.opts.keepEntries;
    if (compactTo >= this.mem.firstIndex()) {
      this.mem.compact(compactTo);
      await this.compactStoredLog(compactTo);
    }
    this.emit("snapshot", index);
  }

  /**
   * Deletes the stored entries up to `index` a slice at a time. One batch of ten thousand deletes
   * holds the event loop for ~50 ms while level takes it, and the log appends of the Ready loop
   * (which share the storage's queue) for longer; slices let them through in between.
   */
  private async compactStoredLog(index: number): Promise<void> {
    for (let upTo = this.storage.firstIndex() + COMPACT_SLICE - 1; !this.stopped; upTo += COMPACT_SLICE) {
      await this.storage.compact(Math.min(upTo, index));
      if (upTo >= index) return;
      await new Promise((r) => setImmediate(r));
    }
  }

  // ---- errors and shutdown ----

  private notLeader(): RaftNotLeaderError {
    const l = this.leader();
    return new RaftNotLeaderError(l.id === this.id ? NONE : l.id, l.id === this.id ? null : l.addr);
  }

  private mapError(e: unknown): Error {
    if ((e as { code?: string }).code === "RAFT_NOT_LEADER") return this.notLeader();
    return e instanceof Error ? e : new Error(String(e));
  }

  private fatal(e: unknown): void {
    if (this.stopped) return;
    this.emit("fatal", e instanceof Error ? e : new Error(String(e)));
    void this.stop();
  }

  /** Stops timers, network and disk; pending requests fail with RaftStoppedError. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    const err = new RaftStoppedError();
    for (const q of this.queue) q.reject(err);
    this.queue = [];
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const r of this.reads.values()) r.reject(err);
    this.reads.clear();
    this.transport.close();
    await this.loopDone.catch(() => undefined);
    await this.snapshotDone.catch(() => undefined);
    await this.storage.close();
    this.emit("stopped");
  }
}
