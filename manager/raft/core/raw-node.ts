// The core's public face, as etcd's RawNode: feed it ticks, messages and proposals; take Ready
// batches of work from it; confirm each with advance(). Nothing here does I/O.
import { encodeConfChange } from "./conf-change-codec.js";
import { NotLeaderError, invariant } from "./errors.js";
import type { ProgressState } from "./progress.js";
import { Raft, type RaftConfig } from "./raft.js";
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, Ready, SoftState, StateType } from "./types.js";
import { EntryType, MessageType, isLocal, isResponse, message } from "./types.js";

/** A member's replication state as the leader sees it. */
export interface PeerStatus {
  id: NodeId;
  match: number;
  next: number;
  state: ProgressState;
  isLearner: boolean;
  recentActive: boolean;
}

export interface RaftStatus {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  lead: NodeId;
  state: StateType;
  leadTransferee: NodeId;
  /** Only on the leader. */
  peers: PeerStatus[];
  confState: ConfState;
}

export class RawNode {
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private inFlight: Ready | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (tests and single-member bootstrap). */
  campaign(): void {
    this.raft.step(message({ type: MessageType.Hup, from: this.raft.id }));
  }

  /** Proposes one entry; returns its log index. Throws NotLeaderError or ProposalDroppedError. */
  propose(data: Uint8Array): number {
    return this.raft.propose([{ term: 0, index: 0, type: EntryType.Normal, data }]);
  }

  /** Proposes several entries as one message; returns the index of the first. */
  proposeBatch(datas: Uint8Array[]): number {
    invariant(datas.length > 0, "empty proposal batch");
    const last = this.raft.propose(datas.map((data) => ({ term: 0, index: 0, type: EntryType.Normal, data })));
    return last - datas.length + 1;
  }

  /** Proposes a membership change; returns its log index. Throws ConfChangeRefusedError. */
  proposeConfChange(cc: ConfChange): number {
    if (this.raft.state !== "leader") throw new NotLeaderError(this.raft.lead);
    this.raft.validateConfChange(cc);
    return this.raft.propose([{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }]);
  }

  /** Applies a committed membership change (call when applying its entry). */
  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Steps a message received from a peer. Messages from unknown members' responses are ignored. */
  step(m: Message): void {
    if (isLocal(m.type)) throw new Error(`cannot step local message type ${m.type}`);
    if (isResponse(m.type) && !this.raft.trk.isMember(m.from)) return;
    // Proposals are never forwarded between members: one arriving from the network is dropped.
    if (m.type === MessageType.Prop) return;
    this.raft.step(m);
  }

  /** Requests a linearizable read point; it arrives as a ReadState with the same context. */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(message({ type: MessageType.ReadIndex, context: ctx }));
  }

  /** Asks the leader to hand leadership to `to`. */
  transferLeadership(to: NodeId): void {
    this.raft.step(message({ type: MessageType.TransferLeader, from: to }));
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(message({ type: MessageType.Unreachable, from: id }));
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(message({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  /** Told the leader is gone (its connection dropped): stop honouring its lease, so this member grants votes. */
  forgetLeader(): void {
    this.raft.forgetLeader();
  }

  hasReady(): boolean {
    if (this.inFlight) return false;
    const r = this.raft;
    const soft = r.softState();
    if (soft.lead !== this.prevSoft.lead || soft.state !== this.prevSoft.state) return true;
    const hs = r.hardState();
    if (hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote || hs.commit !== this.prevHard.commit) return true;
    return (
      r.msgs.length > 0 ||
      r.raftLog.unstableEntries().length > 0 ||
      r.raftLog.hasNextCommittedEnts() ||
      r.raftLog.hasPendingSnapshot() ||
      r.readStates.length > 0
    );
  }

  /** Takes the next batch of work. Call advance() once it is handled; no other ready() until then. */
  ready(): Ready {
    invariant(this.inFlight === null, "ready() called before advance() of the previous Ready");
    const r = this.raft;
    const soft = r.softState();
    const hs = r.hardState();
    const softChanged = soft.lead !== this.prevSoft.lead || soft.state !== this.prevSoft.state;
    const hardChanged = hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote || hs.commit !== this.prevHard.commit;
    const entries = r.raftLog.unstableEntries().slice();
    const committedEntries = r.raftLog.nextCommittedEnts();
    const rd: Ready = {
      softState: softChanged ? soft : null,
      hardState: hardChanged ? hs : null,
      readStates: r.readStates,
      entries,
      snapshot: r.raftLog.unstable.snapshot,
      committedEntries,
      messages: r.msgs,
      mustSync: entries.length > 0 || hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (softChanged) this.prevSoft = soft;
    if (committedEntries.length) r.raftLog.acceptApplying(committedEntries[committedEntries.length - 1]!.index);
    this.inFlight = rd;
    return rd;
  }

  /** Confirms the last Ready was persisted, sent and applied. */
  advance(): void {
    const rd = this.inFlight;
    invariant(rd !== null, "advance() without ready()");
    this.inFlight = null;
    const log = this.raft.raftLog;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      log.stableSnapTo(rd.snapshot.meta.index);
      if (rd.snapshot.meta.index > log.applied) log.appliedTo(rd.snapshot.meta.index);
    }
    if (rd.entries.length) {
      const last: Entry = rd.entries[rd.entries.length - 1]!;
      log.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length) {
      const lastApplied = rd.committedEntries[rd.committedEntries.length - 1]!.index;
      if (lastApplied > log.applied) log.appliedTo(lastApplied);
      this.raft.reduceUncommittedSize(rd.committedEntries);
    }
  }

  status(): RaftStatus {
    const r = this.raft;
    const peers: PeerStatus[] = [];
    if (r.state === "leader") {
      for (const [id, pr] of r.trk.progress) {
        peers.push({ id, match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner, recentActive: pr.recentActive });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.raftLog.committed,
      applied: r.raftLog.applied,
      lastIndex: r.raftLog.lastIndex(),
      lead: r.lead,
      state: r.state,
      leadTransferee: r.leadTransferee,
      peers,
      confState: r.trk.confState(),
    };
  }
}

