// Entries and a snapshot the core holds that the driver has not yet persisted.
import { invariant } from "./errors.js";
import type { Entry, Snapshot } from "./types.js";

export class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** The log index of entries[0]. */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | null {
    return this.snapshot ? this.snapshot.meta.index + 1 : null;
  }

  maybeLastIndex(): number | null {
    if (this.entries.length) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.meta.index : null;
  }

  maybeTerm(i: number): number | null {
    if (i < this.offset) {
      return this.snapshot && this.snapshot.meta.index === i ? this.snapshot.meta.term : null;
    }
    const last = this.maybeLastIndex();
    if (last === null || i > last) return null;
    return this.entries[i - this.offset]!.term;
  }

  /** Marks entries up to `i` (if still of term `t`) as persisted. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    if (gt === null || gt !== t || i < this.offset) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.meta.index === i) this.snapshot = null;
  }

  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    invariant(lo <= hi && this.offset <= lo && hi <= this.offset + this.entries.length, `unstable.slice[${lo},${hi}) out of bounds [${this.offset},${this.offset + this.entries.length})`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
