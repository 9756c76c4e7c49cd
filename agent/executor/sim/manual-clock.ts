// A clock that moves only when told: tests and simulations advance it and due timers fire in
// order (by due time, then by creation). Timers live in a binary heap, so thousands are cheap.
import type { Clock, Timer } from "../../task/clock.js";

interface Entry {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

function before(a: Entry, b: Entry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** A manual {@link Clock}: `now()` changes only through `advance()`/`runNext()`. */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #live = 0;
  readonly #heap: Entry[] = [];

  constructor(startUnixMs = 1_700_000_000_000) {
    this.#now = startUnixMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const e: Entry = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#push(e);
    this.#live++;
    return {
      cancel: () => {
        if (e.cancelled) return;
        e.cancelled = true;
        this.#live--;
      },
    };
  }

  /** Timers not yet fired nor cancelled. */
  get pending(): number {
    return this.#live;
  }

  /** When the next timer is due, or null when none is pending. */
  nextDue(): number | null {
    this.#dropCancelled();
    return this.#heap[0]?.due ?? null;
  }

  /** Moves time forward by `ms`, firing every timer due by then (also those set while firing). */
  advance(ms: number): void {
    const target = this.#now + Math.max(0, ms);
    for (;;) {
      this.#dropCancelled();
      const top = this.#heap[0];
      if (!top || top.due > target) break;
      this.#fire();
    }
    this.#now = target;
  }

  /** Jumps to the next due timer and fires it (and any others due at that instant). False if none. */
  runNext(): boolean {
    const due = this.nextDue();
    if (due === null) return false;
    this.advance(due - this.#now);
    return true;
  }

  #fire(): void {
    const e = this.#pop()!;
    this.#now = Math.max(this.#now, e.due);
    e.cancelled = true;
    this.#live--;
    e.fn();
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Entry | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
