// Sizes, CPUs and points in time as docker reads and prints them: "512M" and "0.5" in,
// "7.776GiB", "2024-05-01 12:00:00.5 +0000 UTC", "3 hours ago" out.
import { humanDuration } from "./duration.js";

const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/** Bytes in binary units with 4 significant digits (go-units BytesSize): 8349155328 → "7.776GiB". */
export function bytesSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toPrecision(4))}${BINARY_UNITS[unit]}`;
}

/** A size docker's memory flags take (go-units RAMInBytes), or undefined: "512M", "1g", "1.5GiB", "100" (bytes). */
export function parseMemoryBytes(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text);
  if (!m) return undefined;
  const power = m[2] ? "kmgtp".indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.trunc(Number(m[1]) * 1024 ** power);
}

const NANO_DIGITS = 9;

/** A CPU count ("0.5", "2", ".25") as nano-CPUs, or undefined when it is not a decimal or finer than 1e-9. */
export function parseNanoCpus(text: string): number | undefined {
  const m = /^\+?(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[1] === "" && !m[2])) return undefined;
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  if (fraction.length > NANO_DIGITS) return undefined;
  return Number(BigInt(m[1] || "0") * 10n ** BigInt(NANO_DIGITS) + BigInt(fraction.padEnd(NANO_DIGITS, "0")));
}

/** A CPU count from nano-CPUs: 2500000000 → "2.5". */
export function cpus(nanoCpus: number): string {
  return String(nanoCpus / 1e9);
}

const two = (n: number) => String(n).padStart(2, "0");

/** Go's time.Time.String() in UTC of a Unix time in milliseconds: "2024-05-01 12:00:00.5 +0000 UTC". */
export function formatTime(unixMs: number): string {
  const d = new Date(unixMs);
  const ms = d.getUTCMilliseconds();
  const frac = ms === 0 ? "" : `.${String(ms).padStart(3, "0").replace(/0+$/, "")}`;
  return (
    `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}${frac} +0000 UTC`
  );
}

/** RFC 3339 in UTC, as docker's JSON shows times; "" for 0 (not set). */
export function rfc3339(unixMs: number): string {
  return unixMs === 0 ? "" : new Date(unixMs).toISOString();
}

/** How long ago `unixMs` was, docker style: "3 hours ago". */
export function timeAgo(unixMs: number, nowMs: number): string {
  return `${humanDuration(nowMs - unixMs)} ago`;
}

/** How far `unixMs` is from now: "in 3 months", "in about an hour", or "3 hours ago" once past. */
export function timeFromNow(unixMs: number, nowMs: number): string {
  if (unixMs < nowMs) return timeAgo(unixMs, nowMs);
  const human = humanDuration(unixMs - nowMs);
  return `in ${human[0]?.toLowerCase() ?? ""}${human.slice(1)}`;
}
