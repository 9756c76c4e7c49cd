// A fixed-size reservoir of recent latencies, for p50/p99 figures in metrics.

export class LatencyWindow {
  private readonly samples: Float64Array;
  private n = 0;

  constructor(size = 4096) {
    this.samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.samples[this.n % this.samples.length] = ms;
    this.n++;
  }

  /** The q-quantile (0..1) of the recent samples, or 0 with none. */
  quantile(q: number): number {
    const len = Math.min(this.n, this.samples.length);
    if (len === 0) return 0;
    const sorted = Array.from(this.samples.subarray(0, len)).sort((a, b) => a - b);
    return sorted[Math.min(len - 1, Math.floor(q * len))]!;
  }
}
