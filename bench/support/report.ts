// How the benches speak: one JSON object per figure on stdout (the figure, its unit and the
// conditions it was measured under), and timestamped progress notes on stderr.

/** Prints one figure; `value` is rounded to two decimals (null when it could not be measured). */
export type Printer = (metric: string, value: number | null, unit: string, conditions?: Record<string, unknown>) => void;

/** A printer whose lines all carry `common` (bench name, cluster size, ...) before the figure. */
export function jsonPrinter(common: Record<string, unknown>): Printer {
  return (metric, value, unit, conditions = {}) => {
    console.log(JSON.stringify({ ...common, metric, value: value === null ? null : round2(value), unit, ...conditions }));
  };
}

/** A progress note on stderr, prefixed with the wall-clock time of day. */
export function note(msg: string): void {
  process.stderr.write(`# ${new Date().toISOString().slice(11, 23)} ${msg}\n`);
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The q-quantile of an ascending array (0 when empty). */
export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** The median of `xs` (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
