// The Raft state machine (§5 of the Raft paper, with pre-vote, check-quorum, learners, leadership
// transfer and ReadIndex from §9 and §6 of Ongaro's thesis). Pure: time is `tick()`, randomness a seed,
// I/O is the messages it queues and the log it exposes; RawNode packages them as Ready batches.
import {
  ConfChangeRefusedError,
  NotLeaderError,
  ProposalDroppedError,
  RaftInvariantError,
  invariant,
} from "./errors.js";
import type { LogStorage } from "./memory-storage.js";
import { ProgressState } from "./progress.js";
import { majority } from "./quorum.js";
import { seededRandom } from "./random.js";
import { ReadOnly } from "./read-only.js";
import { RaftLog } from "./raft-log.js";
import { ProgressTracker } from "./tracker.js";
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, ReadState, Snapshot, SoftState } from "./types.js";
import {
  ConfChangeType,
  EMPTY,
  EntryType,
  MessageType,
  NONE,
  StateType,
  message,
} from "./types.js";

/** Tunables of one member. Defaults match SwarmKit's etcd settings where it has them. */
export interface RaftConfig {
  id: NodeId;
  storage: LogStorage;
  /** Seed of the randomized election timeout. */
  seed: number;
  /** Ticks without hearing from a leader before campaigning (randomized in [n, 2n)). Default 10. */
  electionTick?: number;
  /** Ticks between leader heartbeats. Default 1. */
  heartbeatTick?: number;
  /** Last index the application has applied (on restart). Default 0. */
  applied?: number;
  /** Max payload bytes per append message. Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Max bytes of committed entries handed out per Ready. Default 8 MiB. */
  maxCommittedSizePerReady?: number;
  /** Max append messages in flight per follower. Default 256. */
  maxInflightMsgs?: number;
  /** Max payload bytes in flight per follower (0: unbounded). Default 0. */
  maxInflightBytes?: number;
  /** Max bytes of proposed-but-uncommitted payload at the leader (0: unbounded). Default 64 MiB. */
  maxUncommittedEntriesSize?: number;
  /** Default true. */
  preVote?: boolean;
  /** Default true. */
  checkQuorum?: boolean;
}

const CAMPAIGN_TRANSFER = new Uint8Array([0x54]); // "T": a vote forced by leadership transfer

type CampaignKind = "pre-election" | "election" | "transfer";

function voteRespType(t: MessageType): MessageType {
  return t === MessageType.Vote ? MessageType.VoteResp : MessageType.PreVoteResp;
}

function payloadSize(ents: Entry[]): number {
  let s = 0;
  for (const e of ents) s += e.data.length;
  return s;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  readonly raftLog: RaftLog;
  trk: ProgressTracker;
  state: StateType = StateType.Follower;
  isLearner = false;
  lead: NodeId = NONE;
  leadTransferee: NodeId = NONE;
  /** Log index of the latest membership change proposed; none may be proposed until it is applied. */
  pendingConfIndex = 0;
  private uncommittedSize = 0;
  private readOnly = new ReadOnly();
  private pendingReadIndexMessages: Message[] = [];
  msgs: Message[] = [];
  readStates: ReadState[] = [];

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;
  private readonly maxMsgSize: number;
  private readonly maxUncommittedSize: number;
  private readonly random: () => number;

  private tickFn: () => void = () => this.tickElection();
  private stepFn: (m: Message) => void = (m) => this.stepFollower(m);

  constructor(c: RaftConfig) {
    invariant(c.id !== NONE, "cannot use 0 as a member id");
    this.id = c.id;
    this.electionTimeout = c.electionTick ?? 10;
    this.heartbeatTimeout = c.heartbeatTick ?? 1;
    invariant(this.heartbeatTimeout > 0 && this.electionTimeout > this.heartbeatTimeout, "election tick must exceed heartbeat tick");
    this.checkQuorum = c.checkQuorum ?? true;
    this.preVote = c.preVote ?? true;
    this.maxMsgSize = c.maxSizePerMsg ?? 1 << 20;
    this.maxUncommittedSize = c.maxUncommittedEntriesSize ?? 64 << 20;
    this.random = seededRandom(c.seed);
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady ?? 8 << 20);
    this.trk = new ProgressTracker(c.maxInflightMsgs ?? 256, c.maxInflightBytes ?? 0);
    const { hardState, confState } = c.storage.initialState();
    this.applyConfState(confState);
    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, NONE);
  }

  // ---- public surface used by RawNode ----

  softState(): SoftState {
    return { lead: this.lead, state: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  tick(): void {
    this.tickFn();
  }

  /** Proposes entries; returns the index of the last one. Throws when not leader or refused. */
  propose(entries: Entry[]): number {
    if (this.state !== StateType.Leader) throw new NotLeaderError(this.lead);
    this.step(message({ type: MessageType.Prop, from: this.id, entries }));
    return this.raftLog.lastIndex();
  }

  /** Applies a committed membership change; returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    const last = this.raftLog.lastIndex();
    switch (cc.type) {
      case ConfChangeType.AddLearner:
        if (!this.trk.voters.has(cc.nodeId)) this.trk.set(cc.nodeId, true, last + 1).recentActive = true;
        break;
      case ConfChangeType.AddVoter:
        this.trk.set(cc.nodeId, false, last + 1).recentActive = true;
        break;
      case ConfChangeType.RemoveNode:
        this.trk.remove(cc.nodeId);
        break;
    }
    return this.afterConfChange();
  }

  private afterConfChange(): ConfState {
    const cs = this.trk.confState();
    const self = this.trk.progress.get(this.id);
    this.isLearner = self?.isLearner ?? false;
    if ((!self || this.isLearner) && this.state === StateType.Leader) {
      // This leader was removed or demoted: it steps down now that the change is applied.
      this.becomeFollower(this.term, NONE);
      return cs;
    }
    if (this.state !== StateType.Leader || this.trk.voters.size === 0) return cs;
    if (this.maybeCommit()) this.bcastAppend();
    else for (const id of this.trk.progress.keys()) if (id !== this.id) this.maybeSendAppend(id, false);
    if (this.leadTransferee !== NONE && !this.trk.voters.has(this.leadTransferee)) this.abortLeaderTransfer();
    return cs;
  }

  private applyConfState(cs: ConfState): void {
    const next = this.raftLog.lastIndex() + 1;
    for (const id of cs.voters) this.trk.set(id, false, next);
    for (const id of cs.learners) this.trk.set(id, true, next);
    this.isLearner = cs.learners.includes(this.id);
  }

  private loadState(hs: HardState): void {
    invariant(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      `hard state commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  /** Checks a membership change before it is proposed. */
  validateConfChange(cc: ConfChange): void {
    if (this.pendingConfIndex > this.raftLog.applied) {
      throw new ConfChangeRefusedError(
        `another change (log index ${this.pendingConfIndex}) is not applied yet; changes go one at a time`,
      );
    }
    const isVoter = this.trk.voters.has(cc.nodeId);
    const isLearner = this.trk.learners.has(cc.nodeId);
    switch (cc.type) {
      case ConfChangeType.AddLearner:
        if (isVoter) throw new ConfChangeRefusedError(`member ${cc.nodeId} is already a voter`);
        if (isLearner) throw new ConfChangeRefusedError(`member ${cc.nodeId} is already a learner`);
        break;
      case ConfChangeType.AddVoter:
        if (isVoter) throw new ConfChangeRefusedError(`member ${cc.nodeId} is already a voter`);
        break;
      case ConfChangeType.RemoveNode:
        if (!isVoter && !isLearner) throw new ConfChangeRefusedError(`member ${cc.nodeId} is not a member`);
        if (isVoter && this.trk.voters.size === 1) throw new ConfChangeRefusedError(`member ${cc.nodeId} is the last voter`);
        break;
    }
  }

  // ---- sending ----

  private send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    if (
      m.type === MessageType.Vote ||
      m.type === MessageType.VoteResp ||
      m.type === MessageType.PreVote ||
      m.type === MessageType.PreVoteResp
    ) {
      invariant(m.term !== 0, `term must be set on ${m.type}`);
    } else {
      invariant(m.term === 0, `term must not be set on message type ${m.type}`);
      if (m.type !== MessageType.Prop && m.type !== MessageType.ReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  /** Sends an append (or a snapshot) to `to` if its progress allows; returns whether one was sent. */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    let ents: Entry[] | null = [];
    // With a full window only an empty append goes out: if every append in the window was lost,
    // its answer (accept or reject) still clears the window and replication resumes.
    const throttled = pr.state === ProgressState.Replicate && pr.inflights.full();
    if (prevTerm !== null && !throttled) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxMsgSize);
      } catch {
        ents = null;
      }
    }
    if (prevTerm === null || ents === null) return this.maybeSendSnapshot(to);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send(
      message({ type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.raftLog.committed }),
    );
    pr.sentEntries(ents.length, payloadSize(ents));
    return true;
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendSnapshot(to: NodeId): boolean {
    const pr = this.trk.progress.get(to)!;
    if (!pr.recentActive) return false;
    const snap = this.raftLog.snapshot();
    invariant(snap.meta.index !== 0, "need a non-empty snapshot to send");
    this.send(message({ type: MessageType.Snap, to, snapshot: snap }));
    pr.becomeSnapshot(snap.meta.index);
    return true;
  }

  private sendHeartbeat(to: NodeId, ctx: Uint8Array): void {
    const commit = Math.min(this.trk.progress.get(to)!.match, this.raftLog.committed);
    this.send(message({ type: MessageType.Heartbeat, to, commit, context: ctx }));
  }

  bcastAppend(): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /**
   * The periodic heartbeat round. A streaming follower (Replicate) that accepted an append since the
   * last round and has acknowledged everything sent to it is skipped: it heard from this leader
   * within the round (its election timer was reset), the leader heard from it, and commit indexes
   * travel on appends. A follower that is silent, behind, paused or probing still gets one (its
   * answer is what resumes replication), and so does every follower while a read waits for
   * acknowledgements. Under steady writes this saves most heartbeats; an idle cluster heartbeats as
   * before.
   */
  private bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingContext();
    for (const [id, pr] of this.trk.progress) {
      if (id === this.id) continue;
      const skip = ctx === null && pr.ackedSinceBeat && pr.state === ProgressState.Replicate && pr.match === pr.next - 1;
      pr.ackedSinceBeat = false;
      if (!skip) this.sendHeartbeat(id, ctx ?? EMPTY);
    }
  }

  private bcastHeartbeatWithCtx(ctx: Uint8Array): void {
    for (const id of this.trk.progress.keys()) if (id !== this.id) this.sendHeartbeat(id, ctx);
  }

  private maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.trk.committed(), this.term);
  }

  // ---- role changes ----

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    for (const [id, pr] of this.trk.progress) {
      pr.match = id === this.id ? last : 0;
      pr.next = last + 1;
      pr.state = ProgressState.Probe;
      pr.pendingSnapshot = 0;
      pr.msgAppFlowPaused = false;
      pr.recentActive = false;
      pr.inflights.reset();
    }
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly();
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.stepFn = (m) => this.stepFollower(m);
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = StateType.Follower;
  }

  private becomePreCandidate(): void {
    if (this.state === StateType.Leader) throw new RaftInvariantError("invalid transition leader -> pre-candidate");
    // Pre-vote changes neither term nor vote.
    this.stepFn = (m) => this.stepCandidate(m);
    this.trk.resetVotes();
    this.tickFn = () => this.tickElection();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }

  private becomeCandidate(): void {
    if (this.state === StateType.Leader) throw new RaftInvariantError("invalid transition leader -> candidate");
    this.stepFn = (m) => this.stepCandidate(m);
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  private becomeLeader(): void {
    if (this.state === StateType.Follower) throw new RaftInvariantError("invalid transition follower -> leader");
    this.stepFn = (m) => this.stepLeader(m);
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = StateType.Leader;
    const self = this.trk.progress.get(this.id)!;
    self.becomeReplicate();
    self.recentActive = true;
    // Membership changes in the uncommitted tail may be pending: allow none until it is applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // A no-op entry of the new term lets earlier entries commit (§5.4.2) and enables ReadIndex.
    const ok = this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY }]);
    invariant(ok, "empty entry was dropped");
  }

  private appendEntries(es: Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    const size = payloadSize(es);
    if (this.maxUncommittedSize > 0 && this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > this.maxUncommittedSize) {
      return false;
    }
    this.uncommittedSize += size;
    for (const e of es) {
      e.term = this.term;
      e.index = ++li;
    }
    li = this.raftLog.append(es);
    this.trk.progress.get(this.id)!.maybeUpdate(li);
    this.maybeCommit();
    return true;
  }

  /** Lowers the uncommitted size once entries are committed and handed to the application. */
  reduceUncommittedSize(ents: Entry[]): void {
    if (this.uncommittedSize === 0) return;
    this.uncommittedSize = Math.max(0, this.uncommittedSize - payloadSize(ents));
  }

  // ---- ticks ----

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step(message({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(message({ type: MessageType.CheckQuorum, from: this.id }));
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(message({ type: MessageType.Beat, from: this.id }));
    }
  }

  /** Whether this member may campaign: a voter with no snapshot waiting to be applied. */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  /** Forgets the leader so this follower grants votes without waiting for the lease to lapse. */
  forgetLeader(): void {
    if (this.state === StateType.Follower && this.lead !== NONE) {
      this.lead = NONE;
    }
  }

  // ---- elections ----

  private hup(kind: CampaignKind): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(kind);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    let lo = this.raftLog.applied + 1;
    const hi = this.raftLog.committed + 1;
    while (lo < hi) {
      const ents = this.raftLog.slice(lo, hi, 8 << 20);
      if (ents.length === 0) break;
      for (const e of ents) if (e.type === EntryType.ConfChange) return true;
      lo = ents[ents.length - 1]!.index + 1;
    }
    return false;
  }

  private campaign(kind: CampaignKind): void {
    if (!this.promotable()) return;
    let voteMsg: MessageType;
    let term: number;
    if (kind === "pre-election") {
      this.becomePreCandidate();
      voteMsg = MessageType.PreVote;
      term = this.term + 1; // the term it would campaign in; its own term is unchanged
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.Vote;
      term = this.term;
    }
    if (this.poll(this.id, voteRespType(voteMsg), true) === "won") {
      if (kind === "pre-election") this.campaign("election");
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.trk.voters) {
      if (id === this.id) continue;
      this.send(
        message({
          type: voteMsg,
          to: id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          context: kind === "transfer" ? CAMPAIGN_TRANSFER : EMPTY,
        }),
      );
    }
  }

  private poll(id: NodeId, _t: MessageType, granted: boolean): string {
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---- message handling ----

  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = m.context.length === 1 && m.context[0] === CAMPAIGN_TRANSFER[0];
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // Within the lease of a live leader, ignore campaigns (they come from a partitioned member).
        if (!force && inLease) return;
      }
      if (m.type === MessageType.PreVote) {
        // Never change term on a pre-vote request.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // The term is bumped when the pre-candidate wins its pre-vote.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. after a partition healed): answer so it learns the newer term.
        this.send(message({ type: MessageType.AppResp, to: m.from }));
      } else if (m.type === MessageType.PreVote) {
        this.send(message({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? "pre-election" : "election");
        return;
      case MessageType.Vote:
      case MessageType.PreVote: {
        const canVote =
          this.vote === m.from ||
          (this.vote === NONE && this.lead === NONE) ||
          (m.type === MessageType.PreVote && m.term > this.term);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          // Reply with the request's term: a pre-vote grant must not look stale to the pre-candidate.
          this.send(message({ type: voteRespType(m.type), to: m.from, term: m.term }));
          if (m.type === MessageType.Vote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.send(message({ type: voteRespType(m.type), to: m.from, term: this.term, reject: true }));
        }
        return;
      }
      default:
        this.stepFn(m);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        if (!this.trk.quorumActive(this.id)) {
          this.becomeFollower(this.term, NONE);
        }
        for (const [id, pr] of this.trk.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case MessageType.Prop:
        this.stepLeaderPropose(m);
        return;
      case MessageType.ReadIndex:
        if (this.trk.isSingleton()) {
          this.respondToReadIndex(m, this.raftLog.committed);
          return;
        }
        if (!this.committedEntryInCurrentTerm()) {
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.sendReadIndexRequest(m);
        return;
    }

    const pr = this.trk.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case MessageType.AppResp:
        pr.recentActive = true;
        if (m.reject) {
          let nextProbeIdx = m.rejectHint;
          if (m.logTerm > 0) nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
          if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
            if (pr.state === ProgressState.Replicate) pr.becomeProbe();
            this.sendAppend(m.from);
          }
        } else {
          pr.ackedSinceBeat = true;
          const oldPaused = pr.isPaused();
          if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
            if (pr.state === ProgressState.Probe) pr.becomeReplicate();
            else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.raftLog.firstIndex()) {
              pr.becomeProbe();
              pr.becomeReplicate();
            } else if (pr.state === ProgressState.Replicate) pr.inflights.freeLE(m.index);

            if (this.maybeCommit()) {
              this.releasePendingReadIndexMessages();
              this.bcastAppend();
            } else if (oldPaused) {
              // The follower was paused (e.g. probing) when the commit index last advanced, so the
              // broadcast skipped it: send the commit index now rather than at the next heartbeat
              // (etcd does the same).
              this.sendAppend(m.from);
            }
            // Send as much as the window allows.
            while (this.maybeSendAppend(m.from, false)) {
              /* keep sending */
            }
            if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(m.from);
          }
        }
        return;
      case MessageType.HeartbeatResp: {
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        if (pr.match < this.raftLog.lastIndex() || pr.state === ProgressState.Probe) this.sendAppend(m.from);
        if (m.context.length === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (!acks) return;
        let votersAcked = 0;
        for (const id of acks) if (this.trk.voters.has(id)) votersAcked++;
        if (votersAcked < majority(this.trk.voters.size)) return;
        for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.req, rs.index);
        return;
      }
      case MessageType.SnapStatus:
        if (pr.state !== ProgressState.Snapshot) return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the next heartbeat response (or append response) before sending again.
        pr.msgAppFlowPaused = true;
        return;
      case MessageType.Unreachable:
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        return;
      case MessageType.TransferLeader: {
        if (pr.isLearner) return;
        const target = m.from;
        if (this.leadTransferee !== NONE) {
          if (this.leadTransferee === target) return;
          this.abortLeaderTransfer();
        }
        if (target === this.id) return;
        this.electionElapsed = 0;
        this.leadTransferee = target;
        if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(target);
        else this.sendAppend(target);
        return;
      }
    }
  }

  private stepLeaderPropose(m: Message): void {
    invariant(m.entries.length > 0, "stepped empty proposal");
    if (!this.trk.progress.has(this.id)) throw new ProposalDroppedError("this member was removed from the cluster");
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError(`leadership is being transferred to member ${this.leadTransferee}`);
    }
    let confIndex = 0;
    for (let i = 0; i < m.entries.length; i++) {
      if (m.entries[i]!.type !== EntryType.ConfChange) continue;
      if (confIndex !== 0 || this.pendingConfIndex > this.raftLog.applied) {
        throw new ConfChangeRefusedError(`another change (log index ${confIndex || this.pendingConfIndex}) is not applied yet`);
      }
      confIndex = this.raftLog.lastIndex() + i + 1;
    }
    // pendingConfIndex moves only once the proposal is in the log, so a refused one blocks nothing.
    if (!this.appendEntries(m.entries)) {
      throw new ProposalDroppedError(
        `more than ${this.maxUncommittedSize} bytes are proposed but not committed; the cluster is not keeping up`,
      );
    }
    if (confIndex !== 0) this.pendingConfIndex = confIndex;
    this.bcastAppend();
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.sendReadIndexRequest(m);
  }

  private sendReadIndexRequest(m: Message): void {
    this.readOnly.addRequest(this.raftLog.committed, m);
    this.readOnly.recvAck(this.id, m.context);
    this.bcastHeartbeatWithCtx(m.context);
  }

  private respondToReadIndex(req: Message, index: number): void {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index, context: req.context });
    } else {
      this.send(message({ type: MessageType.ReadIndexResp, to: req.from, index, context: req.context }));
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.state === StateType.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        throw new NotLeaderError(NONE);
      case MessageType.App:
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.ReadIndex:
        // A local request fails at once; one forwarded by a peer is dropped (the peer times out).
        if (m.from === NONE) throw new NotLeaderError(NONE);
        return;
      case myVoteResp: {
        const res = this.poll(m.from, m.type, !m.reject);
        if (res === "won") {
          if (this.state === StateType.PreCandidate) this.campaign("election");
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (res === "lost") {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        throw new NotLeaderError(this.lead);
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        if (this.lead === NONE) return;
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.TimeoutNow:
        this.hup("transfer");
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) {
          if (m.from === NONE) throw new NotLeaderError(NONE);
          return;
        }
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context });
        return;
    }
  }

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: lastNew }));
      return;
    }
    // Reject with a hint: the largest index ≤ m.index whose term is ≤ m.logTerm (fast back-off).
    const hint = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
    this.send(
      message({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(Math.min(m.commit, this.raftLog.lastIndex()));
    this.send(message({ type: MessageType.HeartbeatResp, to: m.from, context: m.context }));
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    if (this.restore(s)) {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.send(message({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot from the leader; false when it is stale or already covered by the log. */
  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) {
      // Only a follower may install a snapshot; anything else means a second leader in this term.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = s.meta.confState;
    // The snapshot may predate this member's addition (a joining learner): accept it anyway. The member
    // learns its own membership when it applies the later log entries; until then it is not promotable.
    if (this.raftLog.matchTerm(s.meta.index, s.meta.term)) {
      // Our log already has the snapshot's last entry: just fast-forward the commit index.
      this.raftLog.commitTo(s.meta.index);
      return false;
    }
    this.raftLog.restore(s);
    this.trk = new ProgressTracker(this.trk.maxInflight, this.trk.maxInflightBytes);
    this.applyConfState(cs);
    return true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(message({ type: MessageType.TimeoutNow, to }));
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }
}
