// Flow control window of one follower: bounded by message count and by bytes.
import { describe, expect, it } from "vitest";
import { Inflights } from "./inflights.js";
import { seededRandom } from "./random.js";

describe("Inflights", () => {
  it("fills up to its count, refuses more, and frees acknowledged messages in order", () => {
    const in_ = new Inflights(3, 0);
    in_.add(5, 10);
    in_.add(7, 10);
    expect([in_.length, in_.full()]).toEqual([2, false]);
    in_.add(9, 10);
    expect([in_.length, in_.full()]).toEqual([3, true]);
    expect(() => in_.add(11, 10)).toThrow(/full/);
    in_.freeLE(4);
    expect(in_.length).toBe(3);
    in_.freeLE(7);
    expect([in_.length, in_.full()]).toEqual([1, false]);
    in_.freeLE(100);
    expect(in_.length).toBe(0);
  });

  it("wraps around its ring buffer", () => {
    const in_ = new Inflights(4, 0);
    for (let i = 1; i <= 4; i++) in_.add(i, 1);
    in_.freeLE(3);
    for (let i = 5; i <= 7; i++) in_.add(i, 1);
    expect([in_.length, in_.full()]).toEqual([4, true]);
    in_.freeLE(5);
    expect(in_.length).toBe(2);
    in_.freeLE(6);
    expect(in_.length).toBe(1);
    in_.add(8, 1);
    in_.freeLE(7);
    expect(in_.length).toBe(1);
    in_.freeLE(8);
    expect(in_.length).toBe(0);
  });

  it("is full once the bytes in flight reach maxBytes, and frees bytes with messages", () => {
    const in_ = new Inflights(10, 100);
    in_.add(1, 60);
    expect(in_.full()).toBe(false);
    in_.add(2, 40);
    expect(in_.full()).toBe(true);
    in_.freeLE(1);
    expect(in_.full()).toBe(false);
    in_.add(3, 59);
    expect(in_.full()).toBe(false);
    in_.add(4, 1);
    expect(in_.full()).toBe(true);
  });

  it("reset empties it", () => {
    const in_ = new Inflights(2, 10);
    in_.add(1, 10);
    in_.add(2, 1);
    in_.reset();
    expect([in_.length, in_.full()]).toEqual([0, false]);
    in_.add(3, 5);
    expect(in_.length).toBe(1);
  });

  it("matches a naive model over 5000 random operations", () => {
    const rand = seededRandom(3);
    for (const [maxCount, maxBytes] of [
      [1, 0],
      [3, 0],
      [5, 50],
      [8, 0],
    ] as const) {
      const in_ = new Inflights(maxCount, maxBytes);
      let model: { index: number; bytes: number }[] = [];
      let next = 1;
      const full = () => model.length === maxCount || (maxBytes > 0 && model.reduce((s, m) => s + m.bytes, 0) >= maxBytes);
      for (let i = 0; i < 5000; i++) {
        const op = rand();
        if (op < 0.55) {
          const bytes = Math.floor(rand() * 20);
          if (full()) {
            expect(in_.full()).toBe(true);
            continue;
          }
          next += 1 + Math.floor(rand() * 3);
          in_.add(next, bytes);
          model.push({ index: next, bytes });
        } else if (op < 0.97) {
          const to = next - Math.floor(rand() * 8);
          in_.freeLE(to);
          model = model.filter((m) => m.index > to);
        } else {
          in_.reset();
          model = [];
        }
        expect([i, in_.length, in_.full()]).toEqual([i, model.length, full()]);
      }
    }
  });
});
