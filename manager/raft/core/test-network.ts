// A tiny synchronous in-memory network of RawNodes for the core's behaviour tests (not a test file).
// Each node persists into its own MemoryStorage and honours the Ready contract: persist snapshot,
// entries and hard state; hand the messages to the network; apply the snapshot and committed entries
// (membership changes through decodeConfChange + applyConfChange); then advance(). Nothing here uses
// timers or real randomness: time is tick(), every node's election timer is seeded.
import { decodeConfChange, encodeConfChange } from "./conf-change-codec.js";
import { MemoryStorage } from "./memory-storage.js";
import type { RaftConfig } from "./raft.js";
import { RawNode } from "./raw-node.js";
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, ReadState, Snapshot } from "./types.js";
import { ConfChangeType, EMPTY, EntryType, MessageType, StateType } from "./types.js";

export type TestConfig = Partial<Omit<RaftConfig, "id" | "storage">>;

/** Defaults used by the tests: small timeouts so a run needs few ticks. */
export const TEST_ELECTION_TICK = 10;
export const TEST_HEARTBEAT_TICK = 1;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

export function text(b: Uint8Array): string {
  return dec.decode(b);
}

/**
 * The entries every initial member starts with (like etcd's Bootstrap): one committed membership
 * change per member at term 1, voters first, then learners. A member joining later starts empty and
 * receives them from the leader, so it rebuilds the same membership.
 */
export function bootstrapEntries(voters: NodeId[], learners: NodeId[] = []): Entry[] {
  const ccs: ConfChange[] = [
    ...voters.map((nodeId) => ({ type: ConfChangeType.AddVoter, nodeId, context: EMPTY })),
    ...learners.map((nodeId) => ({ type: ConfChangeType.AddLearner, nodeId, context: EMPTY })),
  ];
  return ccs.map((cc, i) => ({ term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange(cc) }));
}

/** How one initial member's disk looks before it starts. */
export interface NodeSpec {
  /** Terms of entries already in the log after the bootstrap entries (indexes bootIndex+1, …). */
  log?: number[];
  /** Persisted term; default: the largest term in the log (at least 1). */
  term?: number;
  /** Persisted vote; default none. */
  vote?: NodeId;
  /** Per-node overrides of the network's config. */
  config?: TestConfig;
}

export interface NetworkOptions {
  /** Initial voters; default [1, 2, 3]. */
  voters?: NodeId[];
  /** Initial learners; default none. */
  learners?: NodeId[];
  /** Seed of the network: member `id` gets seed `seed * 1000 + id`. Default 1. */
  seed?: number;
  /** Config for every member (electionTick 10, heartbeatTick 1 unless given). */
  config?: TestConfig;
  nodes?: Record<NodeId, NodeSpec>;
  /**
   * Report the outcome of every Snap message to its sender, as a driver's transport would:
   * reportSnapshot(to, true) once delivered, reportSnapshot(to, false) when the link is down.
   * Default true.
   */
  autoReportSnapshot?: boolean;
}

/** One member: a RawNode, its storage and what its "application" saw. */
export class TestNode {
  readonly raw: RawNode;
  /** Every entry handed to the application, in order (membership changes included). */
  readonly applied: Entry[] = [];
  /** Every snapshot the application installed. */
  readonly snapshots: Snapshot[] = [];
  readonly readStates: ReadState[] = [];
  appliedIndex = 0;
  confState: ConfState = { voters: [], learners: [] };

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    readonly config: RaftConfig,
  ) {
    this.raw = new RawNode(config);
  }

  get state(): StateType {
    return this.raw.raft.state;
  }

  get term(): number {
    return this.raw.raft.term;
  }

  get lead(): NodeId {
    return this.raw.raft.lead;
  }

  get committed(): number {
    return this.raw.raft.raftLog.committed;
  }

  get lastIndex(): number {
    return this.raw.raft.raftLog.lastIndex();
  }

  /** Handles one Ready by the contract and returns the messages to send (empty if none was ready). */
  handleReady(): Message[] {
    if (!this.raw.hasReady()) return [];
    const rd = this.raw.ready();
    // 1. persist
    if (rd.snapshot) this.storage.applySnapshot(rd.snapshot);
    if (rd.entries.length) this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    // 2. the messages go out (the caller enqueues them)
    const msgs = rd.messages;
    // 3. apply
    if (rd.snapshot) {
      this.snapshots.push(rd.snapshot);
      this.confState = rd.snapshot.meta.confState;
      this.appliedIndex = rd.snapshot.meta.index;
    }
    for (const e of rd.committedEntries) {
      if (e.type === EntryType.ConfChange) this.confState = this.raw.applyConfChange(decodeConfChange(e.data));
      this.applied.push(e);
      this.appliedIndex = e.index;
    }
    for (const rs of rd.readStates) this.readStates.push(rs);
    // 4. advance
    this.raw.advance();
    return msgs;
  }

  /** The persisted log as [index, term] pairs from the first index. */
  persistedLog(): Entry[] {
    const s = this.storage;
    if (s.lastIndex() < s.firstIndex()) return [];
    return s.entries(s.firstIndex(), s.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
  }

  /** Terms of the persisted entries, from the first index. */
  logTerms(): number[] {
    return this.persistedLog().map((e) => e.term);
  }

  /** The payloads of applied normal entries that carry data, decoded as text. */
  appliedData(): string[] {
    return this.applied.filter((e) => e.type === EntryType.Normal && e.data.length > 0).map((e) => text(e.data));
  }

  /** Takes a snapshot at the applied index (with the applied membership) and compacts the log up to it. */
  snapshotAndCompact(data: Uint8Array = bytes(`snap@${this.appliedIndex}`)): Snapshot {
    const snap = this.storage.createSnapshot(this.appliedIndex, this.confState, data);
    this.storage.compact(this.appliedIndex);
    return snap;
  }
}

function key(from: NodeId, to: NodeId): string {
  return `${from}->${to}`;
}

export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages waiting for delivery, FIFO. */
  readonly queue: Message[] = [];
  /** Every message any member sent, in order, including those later dropped. */
  sent: Message[] = [];
  /** Every message actually stepped into a member, in order. */
  delivered: Message[] = [];
  /**
   * Sees every message that passes the link checks; returns it (possibly rewritten) to deliver it,
   * or null to drop it (a test may keep it and `send` it later).
   */
  intercept: ((m: Message) => Message | null) | null = null;
  /** Number of initial log entries (the bootstrap membership changes). */
  readonly bootIndex: number;
  autoReportSnapshot: boolean;

  private readonly cutLinks = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  private readonly seed: number;
  private readonly config: TestConfig;

  constructor(opts: NetworkOptions = {}) {
    const voters = opts.voters ?? [1, 2, 3];
    const learners = opts.learners ?? [];
    this.seed = opts.seed ?? 1;
    this.config = opts.config ?? {};
    this.autoReportSnapshot = opts.autoReportSnapshot ?? true;
    const boot = bootstrapEntries(voters, learners);
    this.bootIndex = boot.length;
    for (const id of [...voters, ...learners]) {
      const spec = opts.nodes?.[id] ?? {};
      const storage = new MemoryStorage();
      const extra: Entry[] = (spec.log ?? []).map((term, i) => ({
        term,
        index: boot.length + i + 1,
        type: EntryType.Normal,
        // Same index and term, same data (the Log Matching Property holds for preloaded logs too).
        data: bytes(`pre-${boot.length + i + 1}@${term}`),
      }));
      storage.append([...boot, ...extra]);
      const maxTerm = Math.max(1, ...extra.map((e) => e.term));
      const hs: HardState = { term: spec.term ?? maxTerm, vote: spec.vote ?? 0, commit: boot.length };
      storage.setHardState(hs);
      this.addNodeWithStorage(id, storage, spec.config);
    }
    // Apply the bootstrap entries so every member knows the membership before the test starts.
    for (const n of this.nodes.values()) this.flush(n);
  }

  /** Starts a member with an empty disk (one joining through a membership change). */
  addNode(id: NodeId, config?: TestConfig): TestNode {
    return this.addNodeWithStorage(id, new MemoryStorage(), config);
  }

  private addNodeWithStorage(id: NodeId, storage: MemoryStorage, config?: TestConfig): TestNode {
    const c: RaftConfig = {
      electionTick: TEST_ELECTION_TICK,
      heartbeatTick: TEST_HEARTBEAT_TICK,
      ...this.config,
      ...config,
      id,
      storage,
      seed: config?.seed ?? this.config.seed ?? this.seed * 1000 + id,
    };
    const n = new TestNode(id, storage, c);
    this.nodes.set(id, n);
    return n;
  }

  /** Removes a member from the network (its messages are dropped from now on). */
  removeNode(id: NodeId): void {
    this.nodes.delete(id);
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no member ${id}`);
    return n;
  }

  // ---- links ----

  /** Drops messages both ways between a and b. */
  cut(a: NodeId, b: NodeId): void {
    this.cutLinks.add(key(a, b));
    this.cutLinks.add(key(b, a));
  }

  /** Drops messages from `from` to `to` only. */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.cutLinks.add(key(from, to));
  }

  /** Drops every message to or from `id`. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  /** Restores every link (and stops intercepting). */
  heal(): void {
    this.cutLinks.clear();
    this.isolated.clear();
    this.intercept = null;
  }

  private linkDown(m: Message): boolean {
    return this.isolated.has(m.from) || this.isolated.has(m.to) || this.cutLinks.has(key(m.from, m.to));
  }

  // ---- message flow ----

  /** Puts a message on the wire (subject to links and interception). */
  send(m: Message): void {
    if (this.linkDown(m)) {
      if (m.type === MessageType.Snap && this.autoReportSnapshot) this.nodes.get(m.from)?.raw.reportSnapshot(m.to, false);
      return;
    }
    const out = this.intercept ? this.intercept(m) : m;
    if (out) this.queue.push(out);
  }

  /** Queues a message for delivery as is: no link check, no interception (e.g. one held earlier). */
  inject(m: Message): void {
    this.queue.push(m);
  }

  /** Handles every pending Ready of `n`, sending its messages. */
  flush(n: TestNode): void {
    while (n.raw.hasReady()) {
      for (const m of n.handleReady()) {
        this.sent.push(m);
        this.send(m);
      }
    }
  }

  flushAll(): void {
    for (const n of this.nodes.values()) this.flush(n);
  }

  /** Delivers one queued message (and handles the receiver's Ready); false when the queue is empty. */
  deliverOne(): boolean {
    const m = this.queue.shift();
    if (!m) return false;
    const to = this.nodes.get(m.to);
    if (!to) return true;
    this.delivered.push(m);
    to.raw.step(m);
    this.flush(to);
    if (m.type === MessageType.Snap && this.autoReportSnapshot) {
      const from = this.nodes.get(m.from);
      if (from) {
        from.raw.reportSnapshot(m.to, true);
        this.flush(from);
      }
    }
    return true;
  }

  /** Runs until no member has work and no message is queued. */
  stabilize(maxDeliveries = 100_000): void {
    for (let i = 0; ; i++) {
      if (i > maxDeliveries) throw new Error("network did not stabilize");
      this.flushAll();
      if (!this.deliverOne()) return;
    }
  }

  // ---- driving ----

  /** Ticks the given members (default all) `n` times, stabilizing after each round. */
  tick(n = 1, ids: NodeId[] = [...this.nodes.keys()]): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids) this.nodes.get(id)?.raw.tick();
      this.stabilize();
    }
  }

  /** Makes `id` campaign now and runs the network until it settles. */
  campaign(id: NodeId): void {
    this.node(id).raw.campaign();
    this.stabilize();
  }

  /** Elects `id` and settles; throws if it did not win. */
  elect(id: NodeId): TestNode {
    this.campaign(id);
    const n = this.node(id);
    if (n.state !== StateType.Leader) throw new Error(`member ${id} did not win (state ${n.state})`);
    return n;
  }

  /** Proposes `data` (text) on `id`, settles, and returns the entry's index. */
  propose(id: NodeId, data: string): number {
    const i = this.node(id).raw.propose(bytes(data));
    this.stabilize();
    return i;
  }

  /** The member that is leader in the highest term, or null. */
  leader(): TestNode | null {
    let best: TestNode | null = null;
    for (const n of this.nodes.values()) {
      if (n.state === StateType.Leader && (!best || n.term > best.term)) best = n;
    }
    return best;
  }

  clearSent(): void {
    this.sent = [];
    this.delivered = [];
  }

  /** Sent messages of the given type (optionally from / to given members). */
  sentOf(type: MessageType, filter: { from?: NodeId; to?: NodeId } = {}): Message[] {
    return this.sent.filter(
      (m) => m.type === type && (filter.from === undefined || m.from === filter.from) && (filter.to === undefined || m.to === filter.to),
    );
  }
}

/** A ConfChange with an empty context. */
export function cc(type: ConfChangeType, nodeId: NodeId): ConfChange {
  return { type, nodeId, context: EMPTY };
}
