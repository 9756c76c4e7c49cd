// Sizes and points in time as docker prints them: "7.776GiB", "2024-05-01 12:00:00.5 +0000 UTC",
// "3 hours ago".
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
