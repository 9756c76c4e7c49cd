// The log as the core reads it: a synchronous, in-memory view of what is durable. The driver
// mirrors into it every entry, hard state and snapshot it has persisted to disk.
import { CompactedError, SnapshotOutOfDateError, UnavailableError, invariant } from "./errors.js";
import type { ConfState, Entry, HardState, Snapshot } from "./types.js";
import { EMPTY, EntryType, entrySize } from "./types.js";

/** What the core needs from stable storage. */
export interface LogStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one, at most `maxBytes` beyond the first. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** Keeps the first `maxBytes` worth of entries, and always at least one. */
export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

function dummy(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: EMPTY };
}

/** LogStorage held in memory; `ents[0]` is a placeholder at the snapshot's index and term. */
export class MemoryStorage implements LogStorage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot = { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: EMPTY };
  private ents: Entry[] = [dummy(0, 0)];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.meta.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  private get offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  term(index: number): number {
    const off = this.offset;
    if (index < off) throw new CompactedError(index);
    if (index - off >= this.ents.length) throw new UnavailableError(index);
    return this.ents[index - off]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const off = this.offset;
    if (lo <= off) throw new CompactedError(lo);
    invariant(hi <= this.lastIndex() + 1, `entries(${lo}, ${hi}) beyond last index ${this.lastIndex()}`);
    if (this.ents.length === 1) throw new UnavailableError(lo);
    return limitSize(this.ents.slice(lo - off, hi - off), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the whole log with a snapshot (a follower installing the leader's snapshot). */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index) throw new SnapshotOutOfDateError(snap.meta.index, this.snap.meta.index);
    this.snap = snap;
    this.ents = [dummy(snap.meta.index, snap.meta.term)];
  }

  /** Records a snapshot the application made at `index`; the log is kept until `compact`. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) throw new SnapshotOutOfDateError(index, this.snap.meta.index);
    invariant(index <= this.lastIndex(), `snapshot index ${index} beyond last index ${this.lastIndex()}`);
    this.snap = { meta: { index, term: this.ents[index - this.offset]!.term, confState }, data };
    return this.snap;
  }

  /** Drops entries up to and including `index`. */
  compact(index: number): void {
    const off = this.offset;
    if (index <= off) return;
    invariant(index <= this.lastIndex(), `compact ${index} beyond last index ${this.lastIndex()}`);
    const i = index - off;
    const kept = this.ents.slice(i + 1);
    kept.unshift(dummy(this.ents[i]!.index, this.ents[i]!.term));
    this.ents = kept;
  }

  /** Appends entries, replacing any existing suffix they conflict with. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    if (first > entries[0]!.index) entries = entries.slice(first - entries[0]!.index);
    const offset = entries[0]!.index - this.offset;
    invariant(offset <= this.ents.length, `missing log entry: last ${this.lastIndex()}, appending at ${entries[0]!.index}`);
    if (offset < this.ents.length) this.ents.length = offset;
    for (const e of entries) this.ents.push(e);
  }
}
