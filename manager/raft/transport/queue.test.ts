import { describe, expect, it } from "vitest";
import { Backoff } from "./backoff.js";
import { BoundedQueue } from "./queue.js";

describe("BoundedQueue", () => {
  it("is FIFO across growth and wrap-around, and refuses past its limit", () => {
    const q = new BoundedQueue<number>(40);
    const out: number[] = [];
    let next = 0;
    for (let round = 0; round < 10; round++) {
      while (q.push(next)) next++;
      expect(q.length).toBe(40);
      for (let i = 0; i < 25; i++) out.push(q.shift()!);
    }
    while (q.length > 0) out.push(q.shift()!);
    expect(out).toEqual([...Array(next).keys()]);
    expect(q.shift()).toBeUndefined();
  });
});

describe("Backoff", () => {
  it("doubles from the initial delay up to the cap, jittered within [base/2, base], and resets", () => {
    const lo = new Backoff({ initialMs: 50, maxMs: 1000, random: () => 0 });
    expect(Array.from({ length: 7 }, () => lo.next())).toEqual([25, 50, 100, 200, 400, 500, 500]);
    const hi = new Backoff({ initialMs: 50, maxMs: 1000, random: () => 0.999999 });
    expect(Array.from({ length: 7 }, () => hi.next())).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
    hi.reset();
    expect(hi.next()).toBe(50);
  });
});
