// Flow control for one follower: the append messages sent but not yet acknowledged, bounded by
// count and by bytes.

export class Inflights {
  private start = 0;
  private count = 0;
  private bytes = 0;
  private readonly indexes: number[];
  private readonly sizes: number[];

  constructor(
    private readonly maxCount: number,
    private readonly maxBytes: number,
  ) {
    this.indexes = new Array<number>(maxCount).fill(0);
    this.sizes = new Array<number>(maxCount).fill(0);
  }

  /** Records a message whose last entry is `index`, carrying `bytes` of payload. */
  add(index: number, bytes: number): void {
    if (this.count === this.maxCount) throw new Error("inflights: add to a full window");
    const slot = (this.start + this.count) % this.maxCount;
    this.indexes[slot] = index;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every message whose last entry is ≤ `to`. */
  freeLE(to: number): void {
    while (this.count > 0 && this.indexes[this.start]! <= to) {
      this.bytes -= this.sizes[this.start]!;
      this.start = (this.start + 1) % this.maxCount;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  full(): boolean {
    return this.count === this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  get length(): number {
    return this.count;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
