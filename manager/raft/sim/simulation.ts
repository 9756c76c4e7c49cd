// A deterministic simulation of a Raft cluster built on the pure core: a seeded scheduler picks
// every action (deliver, tick, propose, crash, restart, partition, membership change, snapshot,
// transfer, read), the network loses, duplicates and reorders messages, and the safety invariants
// are checked after every step. One seed gives exactly one run, so a failure replays by its seed.
import {
  ConfChangeType,
  EMPTY,
  EntryType,
  MemoryStorage,
  MessageType,
  RawNode,
  decodeConfChange,
  seededRandom,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type Ready,
} from "../core/index.js";

export interface SimOptions {
  seed: number;
  members: number;
  steps: number;
  /** Probability a sent message is lost. */
  loss?: number;
  /** Probability a sent message is duplicated. */
  duplicate?: number;
  /** Enables crashes, restarts and partitions. */
  faults?: boolean;
  /** Enables adding, promoting and removing members. */
  membership?: boolean;
  /** Entries applied between local snapshots. */
  snapshotEvery?: number;
}

export interface SimResult {
  seed: number;
  steps: number;
  committed: number;
  acked: number;
  leadersElected: number;
  snapshotsSent: number;
  crashes: number;
  confChanges: number;
  reads: number;
}

export class InvariantViolation extends Error {
  override name = "InvariantViolation";
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A 53-bit string hash (cyrb53): the state machine is a hash chain of applied entries. */
function hash(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

interface StateMachine {
  index: number;
  hash: number;
  confState: ConfState;
}

interface PendingRead {
  ctx: string;
  /** Highest index of any proposal acknowledged before the read was issued. */
  mustSee: number;
  readIndex: number | null;
}

class SimNode {
  storage = new MemoryStorage();
  node: RawNode | null = null;
  sm: StateMachine = { index: 0, hash: 0, confState: { voters: [], learners: [] } };
  removed = false;
  /** Proposals this node made as leader: index → term and payload. */
  proposals = new Map<number, { term: number; data: string }>();
  reads: PendingRead[] = [];
  checkedCommit = 0;
  constructor(readonly id: NodeId) {}
}

interface InFlight {
  msg: Message;
}

export class Simulation {
  private readonly rand: () => number;
  private readonly nodes = new Map<NodeId, SimNode>();
  private network: InFlight[] = [];
  private readonly cut = new Set<string>();
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly committedTerm = new Map<number, number>();
  private readonly hashAt = new Map<number, number>();
  private readonly dataAt = new Map<number, string>();
  private readonly acked = new Map<string, number>();
  private maxAckedIndex = 0;
  private nextId: NodeId;
  private step = 0;
  private proposalSeq = 0;
  private readSeq = 0;
  private readonly stats = { leadersElected: 0, snapshotsSent: 0, crashes: 0, confChanges: 0, reads: 0 };
  private readonly loss: number;
  private readonly duplicate: number;
  private readonly snapshotEvery: number;
  /** Per-run flow-control settings: tiny windows make rare interleavings (Figure 8) common. */
  private readonly tuning: { maxSizePerMsg: number; maxInflightMsgs: number };

  constructor(private readonly opts: SimOptions) {
    this.rand = seededRandom(opts.seed);
    this.loss = opts.loss ?? 0.05;
    this.duplicate = opts.duplicate ?? 0.02;
    this.snapshotEvery = opts.snapshotEvery ?? 25;
    this.tuning = {
      maxSizePerMsg: this.rand() < 0.5 ? 1 : 1 << 20,
      maxInflightMsgs: this.rand() < 0.5 ? 2 : 256,
    };
    const voters = Array.from({ length: opts.members }, (_, i) => i + 1);
    this.nextId = opts.members + 1;
    for (const id of voters) {
      const n = new SimNode(id);
      // Bootstrap: every founding member starts from the same snapshot holding the membership.
      n.storage.applySnapshot({ meta: { index: 1, term: 1, confState: { voters, learners: [] } }, data: this.encodeSm(1, 0) });
      n.sm = { index: 1, hash: 0, confState: { voters, learners: [] } };
      this.nodes.set(id, n);
      this.start(n);
    }
    this.hashAt.set(1, 0);
  }

  private pick<T>(xs: T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private fail(msg: string): never {
    throw new InvariantViolation(`seed ${this.opts.seed}, step ${this.step}: ${msg} (replay with RAFT_SEED=${this.opts.seed})`);
  }

  private encodeSm(index: number, h: number): Uint8Array {
    return enc.encode(JSON.stringify({ index, hash: h }));
  }

  private start(n: SimNode): void {
    const snap = n.storage.snapshot();
    const restored = snap.data.length ? (JSON.parse(dec.decode(snap.data)) as { index: number; hash: number }) : { index: 0, hash: 0 };
    n.sm = { index: snap.meta.index, hash: restored.hash, confState: snap.meta.confState };
    n.node = new RawNode({ id: n.id, storage: n.storage, seed: this.opts.seed * 1000 + n.id * 7 + this.stats.crashes, applied: snap.meta.index, ...this.tuning });
    n.reads = [];
    n.proposals.clear();
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.node !== null);
  }

  private leaders(): SimNode[] {
    return this.live().filter((n) => n.node!.raft.state === "leader");
  }

  // ---- the network ----

  private linkCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  private send(msgs: Message[], faulty: boolean): void {
    for (const m of msgs) {
      if (faulty && this.rand() < this.loss) {
        if (m.type === MessageType.Snap) this.nodes.get(m.from)?.node?.reportSnapshot(m.to, false);
        continue;
      }
      this.network.push({ msg: m });
      if (faulty && this.rand() < this.duplicate) this.network.push({ msg: m });
    }
  }

  private deliverOne(): void {
    if (this.network.length === 0) return;
    const i = Math.floor(this.rand() * this.network.length);
    const { msg } = this.network[i]!;
    this.network[i] = this.network[this.network.length - 1]!;
    this.network.pop();
    const to = this.nodes.get(msg.to);
    const sender = this.nodes.get(msg.from);
    const delivered = !!to?.node && !to.removed && !this.linkCut(msg.from, msg.to);
    if (msg.type === MessageType.Snap) {
      if (delivered) this.stats.snapshotsSent++;
      sender?.node?.reportSnapshot(msg.to, delivered);
    }
    if (!delivered) {
      if (sender?.node && this.rand() < 0.5) sender.node.reportUnreachable(msg.to);
      return;
    }
    to.node!.step(msg);
  }

  // ---- one node's Ready cycle: persist, send, apply, advance ----

  private processReady(n: SimNode, faulty: boolean): void {
    const node = n.node!;
    if (!node.hasReady()) return;
    const rd: Ready = node.ready();
    if (rd.snapshot) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    if (faulty && this.rand() < 0.01) {
      this.crash(n); // persisted, but nothing sent or applied
      return;
    }
    this.send(rd.messages, faulty);
    if (rd.snapshot) {
      const s = JSON.parse(dec.decode(rd.snapshot.data)) as { index: number; hash: number };
      this.expectHash(n, s.index, s.hash, "installed snapshot");
      n.sm = { index: rd.snapshot.meta.index, hash: s.hash, confState: rd.snapshot.meta.confState };
    }
    for (const e of rd.committedEntries) this.apply(n, e);
    for (const rs of rd.readStates) {
      const ctx = dec.decode(rs.context);
      const r = n.reads.find((x) => x.ctx === ctx);
      if (r) r.readIndex = rs.index;
    }
    node.advance();
    this.serveReads(n);
    if (n.removed) {
      n.node = null; // a removed member shuts down once it has applied its removal
    }
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index <= n.sm.index) return;
    if (e.index !== n.sm.index + 1) this.fail(`node ${n.id} applied index ${e.index} after ${n.sm.index}`);
    const data = e.type === EntryType.ConfChange ? `cc:${Array.from(e.data).join(",")}` : dec.decode(e.data);
    const h = hash(`${n.sm.hash}|${e.index}|${e.term}|${data}`);
    this.expectHash(n, e.index, h, "applied entry");
    if (!this.dataAt.has(e.index)) this.dataAt.set(e.index, data);
    n.sm.index = e.index;
    n.sm.hash = h;
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      n.sm.confState = n.node!.applyConfChange(cc);
      if (cc.type === ConfChangeType.RemoveNode && cc.nodeId === n.id) n.removed = true;
      if (cc.type === ConfChangeType.AddLearner && !this.nodes.has(cc.nodeId)) {
        const joiner = new SimNode(cc.nodeId);
        joiner.storage = new MemoryStorage();
        this.nodes.set(cc.nodeId, joiner);
        joiner.node = new RawNode({ id: joiner.id, storage: joiner.storage, seed: this.opts.seed + joiner.id, ...this.tuning });
        joiner.sm = { index: 0, hash: 0, confState: { voters: [], learners: [] } };
      }
    }
    const p = n.proposals.get(e.index);
    if (p) {
      n.proposals.delete(e.index);
      if (p.term === e.term) {
        if (data !== p.data) this.fail(`node ${n.id}: proposal at ${e.index}/${e.term} applied as ${data}, proposed ${p.data}`);
        this.acked.set(p.data, e.index);
        this.maxAckedIndex = Math.max(this.maxAckedIndex, e.index);
      }
    }
  }

  private expectHash(n: SimNode, index: number, h: number, what: string): void {
    const known = this.hashAt.get(index);
    if (known === undefined) this.hashAt.set(index, h);
    else if (known !== h) this.fail(`node ${n.id}: ${what} at index ${index} diverges from the common applied sequence`);
  }

  private serveReads(n: SimNode): void {
    n.reads = n.reads.filter((r) => {
      if (r.readIndex === null || r.readIndex > n.sm.index) return true;
      if (r.readIndex < r.mustSee) {
        this.fail(`node ${n.id}: read ${r.ctx} served at index ${r.readIndex} misses write acknowledged at ${r.mustSee}`);
      }
      this.stats.reads++;
      return false;
    });
  }

  // ---- invariants checked after every step ----

  private checkInvariants(): void {
    for (const n of this.live()) {
      const r = n.node!.raft;
      if (r.state === "leader") {
        const prev = this.leaderOfTerm.get(r.term);
        if (prev === undefined) {
          this.leaderOfTerm.set(r.term, n.id);
          this.stats.leadersElected++;
        } else if (prev !== n.id) this.fail(`two leaders in term ${r.term}: ${prev} and ${n.id}`);
      }
      // A committed entry never changes: the term at each committed index is fixed forever.
      const commit = r.raftLog.committed;
      if (commit < n.checkedCommit) n.checkedCommit = Math.min(n.checkedCommit, commit);
      for (let i = Math.max(n.checkedCommit + 1, r.raftLog.firstIndex()); i <= commit; i++) {
        const t = r.raftLog.term(i);
        if (t === null) continue;
        const known = this.committedTerm.get(i);
        if (known === undefined) this.committedTerm.set(i, t);
        else if (known !== t) this.fail(`node ${n.id}: committed entry ${i} has term ${t}, was ${known}`);
      }
      n.checkedCommit = Math.max(n.checkedCommit, commit);
    }
  }

  // ---- actions ----

  private crash(n: SimNode): void {
    if (!n.node) return;
    n.node = null;
    n.checkedCommit = 0;
    this.stats.crashes++;
  }

  private propose(): void {
    const ls = this.leaders();
    if (ls.length === 0) return;
    const n = this.pick(ls);
    const count = 1 + Math.floor(this.rand() * 3);
    const datas = Array.from({ length: count }, () => `s${this.opts.seed}-p${++this.proposalSeq}`);
    try {
      const first = n.node!.proposeBatch(datas.map((d) => enc.encode(d)));
      const term = n.node!.raft.term;
      datas.forEach((d, i) => n.proposals.set(first + i, { term, data: d }));
    } catch (e) {
      if (!(e instanceof Error) || !/RAFT_/.test((e as { code?: string }).code ?? "")) throw e;
    }
  }

  private read(): void {
    const ls = this.live().filter((n) => !n.removed);
    if (ls.length === 0) return;
    const n = this.pick(ls);
    const ctx = `r${++this.readSeq}`;
    try {
      n.node!.readIndex(enc.encode(ctx));
      n.reads.push({ ctx, mustSee: this.maxAckedIndex, readIndex: null });
    } catch (e) {
      if ((e as { code?: string }).code !== "RAFT_NOT_LEADER") throw e;
    }
  }

  private membershipChange(): void {
    const ls = this.leaders();
    if (ls.length === 0) return;
    const leader = ls[0]!.node!;
    const st = leader.status();
    const voters = st.confState.voters;
    const learners = st.confState.learners;
    const r = this.rand();
    try {
      if (r < 0.4 && voters.length + learners.length < this.opts.members + 1) {
        leader.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: this.nextId++, context: EMPTY });
      } else if (r < 0.7 && learners.length > 0) {
        const l = this.pick(learners);
        const pr = st.peers.find((p) => p.id === l);
        if (pr && pr.match >= st.commit) leader.proposeConfChange({ type: ConfChangeType.AddVoter, nodeId: l, context: EMPTY });
      } else if (voters.length > Math.max(2, this.opts.members - 1)) {
        leader.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: this.pick(voters), context: EMPTY });
      } else return;
      this.stats.confChanges++;
    } catch (e) {
      if ((e as { code?: string }).code !== "RAFT_CONF_CHANGE_REFUSED" && (e as { code?: string }).code !== "RAFT_PROPOSAL_DROPPED") throw e;
    }
  }

  private partition(): void {
    const ids = [...this.nodes.keys()];
    this.cut.clear();
    if (this.rand() < 0.5) {
      const victim = this.pick(ids);
      for (const o of ids) if (o !== victim) {
        this.cut.add(`${victim}>${o}`);
        this.cut.add(`${o}>${victim}`);
      }
    } else {
      for (const a of ids) for (const b of ids) if (a !== b && this.rand() < 0.3) this.cut.add(`${a}>${b}`);
    }
  }

  private maybeSnapshot(n: SimNode): void {
    const snapIndex = n.storage.snapshot().meta.index;
    if (n.sm.index - snapIndex < this.snapshotEvery || n.sm.index > n.storage.lastIndex()) return;
    n.storage.createSnapshot(n.sm.index, n.sm.confState, this.encodeSm(n.sm.index, n.sm.hash));
    n.storage.compact(Math.max(snapIndex + 1, n.sm.index - 5));
  }

  private randomStep(): void {
    const faults = this.opts.faults ?? true;
    const r = this.rand();
    const live = this.live();
    if (r < 0.45) this.deliverOne();
    else if (r < 0.7) {
      if (live.length) this.processReady(this.pick(live), true);
    } else if (r < 0.82) {
      if (live.length) this.pick(live).node!.tick();
    } else if (r < 0.9) this.propose();
    else if (r < 0.92) this.read();
    else if (r < 0.94) {
      if (live.length) this.maybeSnapshot(this.pick(live));
    } else if (r < 0.945 && (this.opts.membership ?? true)) this.membershipChange();
    else if (r < 0.95) {
      const ls = this.leaders();
      const voters = ls[0]?.node!.status().confState.voters ?? [];
      if (ls.length && voters.length) ls[0]!.node!.transferLeadership(this.pick(voters));
    } else if (!faults) return;
    else if (r < 0.955) {
      if (live.length) this.crash(this.pick(live));
    } else if (r < 0.97) {
      const down = [...this.nodes.values()].filter((n) => !n.node && !n.removed);
      if (down.length) this.start(this.pick(down));
    } else if (r < 0.975) this.partition();
    else if (r < 0.985) this.cut.clear();
  }

  /** Heals everything and runs without faults until every live member has applied the same log. */
  private converge(): void {
    this.cut.clear();
    for (const n of this.nodes.values()) if (!n.node && !n.removed) this.start(n);
    for (let round = 0; round < 20_000; round++) {
      this.step++;
      while (this.network.length) this.deliverOne();
      for (const n of this.live()) this.processReady(n, false);
      this.checkInvariants();
      if (round % 3 === 0) for (const n of this.live()) n.node!.tick();
      if (this.converged()) return;
    }
    const summary = this.live().map((n) => `${n.id}:${n.node!.raft.state}@${n.node!.raft.term} applied ${n.sm.index}`);
    this.fail(`cluster did not converge after healing: ${summary.join(", ")}`);
  }

  private converged(): boolean {
    const ls = this.leaders();
    if (ls.length !== 1) return false;
    const st = ls[0]!.node!.status();
    if (st.commit !== st.lastIndex) return false;
    const members = [...st.confState.voters, ...st.confState.learners];
    return members.every((id) => {
      const n = this.nodes.get(id);
      return n?.node && n.sm.index === st.commit && !n.node.hasReady();
    });
  }

  private checkFinal(): void {
    const ls = this.leaders();
    const st = ls[0]!.node!.status();
    for (const [data, index] of this.acked) {
      if (this.dataAt.get(index) !== data) this.fail(`acknowledged proposal ${data} at ${index} is not in the final log`);
      if (index > st.commit) this.fail(`acknowledged proposal ${data} at ${index} is beyond the final commit ${st.commit}`);
    }
    const members = [...st.confState.voters, ...st.confState.learners];
    const hashes = new Set(members.map((id) => this.nodes.get(id)!.sm.hash));
    if (hashes.size !== 1) this.fail(`members' state machines differ after convergence`);
  }

  run(): SimResult {
    for (; this.step < this.opts.steps; this.step++) {
      this.randomStep();
      this.checkInvariants();
    }
    this.converge();
    this.checkFinal();
    return {
      seed: this.opts.seed,
      steps: this.step,
      committed: this.leaders()[0]!.node!.status().commit,
      acked: this.acked.size,
      ...this.stats,
    };
  }
}
