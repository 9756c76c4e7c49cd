// A bounded FIFO (ring buffer) for a peer's outgoing messages.

/** First in, first out, holding at most `limit` items; push never grows past the limit. */
export class BoundedQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private size = 0;

  constructor(readonly limit: number) {}

  get length(): number {
    return this.size;
  }

  /** Appends `item`; false (and nothing stored) if the queue is full. */
  push(item: T): boolean {
    if (this.size >= this.limit) return false;
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) % this.items.length] = item;
    this.size++;
    return true;
  }

  /** The oldest item without removing it. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.size--;
    return item;
  }

  /** Drops everything. */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.size = 0;
  }

  private grow(): void {
    const cap = Math.min(this.limit, Math.max(16, this.items.length * 2));
    const next: (T | undefined)[] = new Array(cap);
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
