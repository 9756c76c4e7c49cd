// The core's view of the log: persisted entries (LogStorage) followed by unstable ones, with the
// commit, applying and applied indexes.
import { CompactedError, UnavailableError, invariant } from "./errors.js";
import { limitSize, type LogStorage } from "./memory-storage.js";
import type { Entry, Snapshot } from "./types.js";
import { Unstable } from "./unstable.js";

export class RaftLog {
  readonly unstable: Unstable;
  committed: number;
  /** Highest index handed to the application in a Ready, not yet confirmed applied. */
  applying: number;
  applied: number;

  constructor(
    readonly storage: LogStorage,
    private readonly maxApplyingBytes: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    this.committed = first - 1;
    this.applying = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    invariant(t !== null, "last term is compacted");
    return t;
  }

  /**
   * The term of entry `i`, or null outside [firstIndex - 1, lastIndex] (compacted or not yet there).
   * The entry just before firstIndex is compacted, but its term is kept for matching appends.
   */
  term(i: number): number | null {
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex || i > this.lastIndex()) return null;
    const t = this.unstable.maybeTerm(i);
    if (t !== null) return t;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return null;
      throw e;
    }
  }

  matchTerm(i: number, t: number): boolean {
    const lt = this.term(i);
    return lt !== null && lt === t;
  }

  /** Appends `ents` following (index, logTerm) if they match; returns the new last index or null. */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | null {
    if (!this.matchTerm(index, logTerm)) return null;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      invariant(ci > this.committed, `entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    invariant(after >= this.committed, `appending after ${after} is below committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** The index of the first entry of `ents` whose term differs from ours, or 0. */
  findConflict(ents: Entry[]): number {
    for (const e of ents) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /** The largest index ≤ `index` whose term is ≤ `term`, with that term (fast back-off). */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      const t = this.term(index);
      if (t === null) return { index, term: 0 };
      if (t <= term) return { index, term: t };
    }
    return { index: 0, term: 0 };
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  /** Committed entries not yet handed to the application. */
  nextCommittedEnts(): Entry[] {
    const lo = Math.max(this.applying + 1, this.firstIndex());
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxApplyingBytes);
  }

  hasNextCommittedEnts(): boolean {
    return Math.max(this.applying + 1, this.firstIndex()) <= this.committed;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  commitTo(toCommit: number): void {
    if (this.committed >= toCommit) return;
    invariant(this.lastIndex() >= toCommit, `commit ${toCommit} is beyond last index ${this.lastIndex()}`);
    this.committed = toCommit;
  }

  acceptApplying(i: number): void {
    this.applying = Math.max(this.applying, i);
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    invariant(this.committed >= i && i >= this.applied, `applied ${i} out of range [${this.applied}, ${this.committed}]`);
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  /** Entries from `i` to the end, at most `maxBytes`; throws CompactedError below the first index. */
  entries(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  /** Entries in [lo, hi); throws CompactedError when lo was compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    invariant(lo <= hi, `invalid slice ${lo} > ${hi}`);
    if (lo < this.firstIndex()) throw new CompactedError(lo);
    invariant(hi <= this.lastIndex() + 1, `slice[${lo},${hi}) out of bound ${this.firstIndex()}..${this.lastIndex()}`);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    const uoff = this.unstable.offset;
    if (lo < uoff) {
      ents = this.storage.entries(lo, Math.min(hi, uoff), maxBytes);
      if (ents.length < Math.min(hi, uoff) - lo) return ents;
    }
    if (hi > uoff) {
      const u = this.unstable.slice(Math.max(lo, uoff), hi);
      ents = ents.length ? ents.concat(u) : u;
    }
    return limitSize(ents, maxBytes);
  }

  /** Whether a log ending at (lasti, term) is at least as up to date as ours (§5.4.1). */
  isUpToDate(lasti: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lasti >= this.lastIndex());
  }

  /** Commits up to `maxIndex` only if that entry is of the current term (§5.4.2). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }
}
