// Durations as docker's flags and output spell them: Go's `time.ParseDuration` syntax ("90s",
// "1h30m", "2160h", "500ms") in, Go's `Duration.String()` ("1h30m0s") and docker's human form
// ("3 months") out. The wire carries whole milliseconds (proto/README.md), so parsing drops any
// sub-millisecond part.

const NS_PER_UNIT: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n], // µ (micro sign)
  ["\u03bcs", 1_000n], // μ (Greek mu)
  ["ms", 1_000_000n],
  ["s", 1_000_000_000n],
  ["m", 60_000_000_000n],
  ["h", 3_600_000_000_000n],
]);
const MAX_NS = (1n << 63n) - 1n;
const NS_PER_MS = 1_000_000n;

/** A duration that Go's time.ParseDuration would refuse; the message is Go's. */
export class DurationSyntaxError extends Error {
  override name = "DurationSyntaxError";
}

/** One `<number><unit>` component: "1.5h" → whole "1", fraction "5", unit "h". */
const COMPONENT = /^(\d*)(?:\.(\d*))?([^\d.]*)/;

/**
 * Parses a Go duration ("1h30m", "-1.5s", "0") into whole milliseconds, truncating toward zero.
 * Throws DurationSyntaxError with Go's message ("time: unknown unit \"d\" in duration \"1d\"").
 */
export function parseDuration(text: string): number {
  const invalid = () => new DurationSyntaxError(`time: invalid duration ${JSON.stringify(text)}`);
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest[0] === "-";
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw invalid();
  let total = 0n;
  while (rest !== "") {
    const m = COMPONENT.exec(rest);
    const [all, whole = "", fraction, unit = ""] = m ?? [];
    if (!m || (whole === "" && !fraction)) throw invalid();
    if (unit === "") throw new DurationSyntaxError(`time: missing unit in duration ${JSON.stringify(text)}`);
    const perUnit = NS_PER_UNIT.get(unit);
    if (perUnit === undefined) {
      throw new DurationSyntaxError(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`);
    }
    total += BigInt(whole || "0") * perUnit;
    if (fraction) total += (BigInt(fraction) * perUnit) / 10n ** BigInt(fraction.length);
    if (total > MAX_NS) throw invalid();
    rest = rest.slice((all ?? "").length);
  }
  const ms = Number(total / NS_PER_MS);
  return negative && ms !== 0 ? -ms : ms;
}

/** `frac` of `value` (with `digits` decimals), without trailing zeros: (1500, 3) → "1.5". */
function decimal(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const frac = (value % scale).toString().padStart(digits, "0").replace(/0+$/, "");
  return `${value / scale}${frac ? `.${frac}` : ""}`;
}

/** Go's Duration.String() of a number of milliseconds: 5400000 → "1h30m0s", 500 → "500ms", 0 → "0s". */
export function formatDuration(ms: number): string {
  const ns = Number.isInteger(ms) ? BigInt(ms) * NS_PER_MS : BigInt(Math.round(ms * 1e6));
  const sign = ns < 0n ? "-" : "";
  const u = ns < 0n ? -ns : ns;
  if (u === 0n) return "0s";
  if (u < 1_000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${decimal(u, 3)}\u00b5s`;
  if (u < 1_000_000_000n) return `${sign}${decimal(u, 6)}ms`;
  const seconds = u / 1_000_000_000n;
  const minutes = seconds / 60n;
  const hours = minutes / 60n;
  let out = `${decimal(u % 60_000_000_000n, 9)}s`;
  if (minutes > 0n) out = `${minutes % 60n}m${out}`;
  if (hours > 0n) out = `${hours}h${out}`;
  return sign + out;
}

/**
 * Docker's human duration (go-units HumanDuration): "Less than a second", "5 seconds",
 * "About a minute", "2 hours", "3 days", "3 months", "2 years".
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}
