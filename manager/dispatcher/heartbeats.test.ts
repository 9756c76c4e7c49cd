// Heartbeat deadlines and period jitter, on plain numbers.
import { describe, expect, it } from "vitest";
import { Awaited, HeartbeatTracker, PERIOD_JITTER, jitteredPeriod } from "./heartbeats.js";
import { seeded } from "./test-support.js";

describe("HeartbeatTracker", () => {
  it("returns the nodes whose deadline passed, once, in id order", () => {
    const t = new HeartbeatTracker();
    t.expect("b", 100, Awaited.Session);
    t.expect("a", 100, Awaited.Unknown);
    t.expect("c", 300, Awaited.Session);
    expect(t.next()).toBe(100);
    expect(t.lapsed(99)).toEqual([]);
    expect(t.lapsed(100)).toEqual([
      { nodeId: "a", awaited: Awaited.Unknown },
      { nodeId: "b", awaited: Awaited.Session },
    ]);
    expect(t.lapsed(200)).toEqual([]);
    expect(t.next()).toBe(300);
  });

  it("a beat replaces the earlier deadline and what the node is awaited for", () => {
    const t = new HeartbeatTracker();
    t.expect("a", 600, Awaited.Unknown);
    t.expect("a", 150, Awaited.Session);
    expect(t.awaited("a")).toBe(Awaited.Session);
    expect(t.lapsed(150)).toEqual([{ nodeId: "a", awaited: Awaited.Session }]);
    expect(t.size).toBe(0);
    expect(t.next()).toBeUndefined();
  });

  it("forgets removed nodes", () => {
    const t = new HeartbeatTracker();
    t.expect("a", 10, Awaited.Session);
    t.forget("a");
    expect(t.lapsed(100)).toEqual([]);
  });
});

describe("jitteredPeriod", () => {
  it("stays within ±10 % of the period and spreads over it", () => {
    const random = seeded(7);
    const seen = Array.from({ length: 1_000 }, () => jitteredPeriod(5_000, random));
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(5_000 * (1 - PERIOD_JITTER));
    expect(Math.max(...seen)).toBeLessThanOrEqual(5_000 * (1 + PERIOD_JITTER));
    expect(Math.min(...seen)).toBeLessThan(4_600);
    expect(Math.max(...seen)).toBeGreaterThan(5_400);
  });

  it("is never below 1 ms", () => {
    expect(jitteredPeriod(1, () => 0)).toBe(1);
  });
});
