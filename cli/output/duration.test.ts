import { describe, expect, it } from "vitest";
import { formatDuration, humanDuration, parseDuration } from "./duration.js";

describe("parseDuration (Go syntax, whole milliseconds)", () => {
  it.each([
    ["0", 0],
    ["90s", 90_000],
    ["1h30m", 5_400_000],
    ["2160h", 7_776_000_000],
    ["500ms", 500],
    ["1.5s", 1_500],
    [".5m", 30_000],
    ["1.s", 1_000],
    ["-1m", -60_000],
    ["+2s", 2_000],
    ["1h2m3s4ms", 3_723_004],
    ["1500us", 1],
    ["1500µs", 1],
    ["999999ns", 0],
    ["8760h", 31_536_000_000],
  ])("%s → %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ["", 'time: invalid duration ""'],
    ["abc", 'time: invalid duration "abc"'],
    [".", 'time: invalid duration "."'],
    ["-", 'time: invalid duration "-"'],
    ["1h-5m", 'time: unknown unit "h-" in duration "1h-5m"'],
    ["90", 'time: missing unit in duration "90"'],
    ["1d", 'time: unknown unit "d" in duration "1d"'],
    ["5 s", 'time: unknown unit " s" in duration "5 s"'],
    ["99999999999h", 'time: invalid duration "99999999999h"'],
  ])("%j is refused: %s", (text, message) => {
    expect(() => parseDuration(text)).toThrow(message);
  });
});

describe("formatDuration (Go's Duration.String of milliseconds)", () => {
  it.each([
    [0, "0s"],
    [500, "500ms"],
    [1, "1ms"],
    [1_500, "1.5s"],
    [90_000, "1m30s"],
    [5_400_000, "1h30m0s"],
    [7_776_000_000, "2160h0m0s"],
    [3_723_004, "1h2m3.004s"],
    [-60_000, "-1m0s"],
    [0.5, "500µs"],
    [0.000_5, "500ns"],
  ])("%d ms → %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("round-trips what it prints", () => {
    for (const ms of [1, 999, 1_000, 61_000, 3_600_000, 7_776_000_000, 123_456_789]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});

describe("humanDuration (docker's)", () => {
  it.each([
    [500, "Less than a second"],
    [1_000, "1 second"],
    [5_000, "5 seconds"],
    [60_000, "About a minute"],
    [45 * 60_000, "45 minutes"],
    [3_600_000, "About an hour"],
    [5 * 3_600_000, "5 hours"],
    [3 * 86_400_000, "3 days"],
    [21 * 86_400_000, "3 weeks"],
    [90 * 86_400_000, "3 months"],
    [800 * 86_400_000, "2 years"],
  ])("%d ms → %s", (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});
