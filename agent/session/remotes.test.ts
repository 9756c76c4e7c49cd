// Manager choice and backoff, with a seeded random source.
import { describe, expect, it } from "vitest";
import { seededRandom as seeded } from "../executor/sim/random.js";
import { DEFAULT_BACKOFF, ManagerPicker, backoffDelay } from "./remotes.js";


describe("backoffDelay", () => {
  it("doubles from initialMs up to maxMs, jittered into [half, whole]", () => {
    const random = seeded(3);
    for (let failures = 1; failures <= 12; failures++) {
      const whole = Math.min(8_000, 100 * 2 ** (failures - 1));
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(failures, DEFAULT_BACKOFF, random);
        expect(d).toBeGreaterThanOrEqual(whole / 2);
        expect(d).toBeLessThanOrEqual(whole);
      }
    }
    expect(backoffDelay(1, DEFAULT_BACKOFF, () => 0)).toBe(50);
    expect(backoffDelay(100, DEFAULT_BACKOFF, () => 0.999999)).toBe(8_000);
  });
});

describe("ManagerPicker", () => {
  const peers = (leader: string) =>
    ["a:1", "b:1", "c:1"].map((addr) => ({ nodeId: addr[0]!, addr, leader: addr === leader }));

  it("prefers a redirect, then the last known leader", () => {
    const p = new ManagerPicker(["a:1"], seeded(1));
    p.observe(peers("b:1"));
    expect(p.addresses()).toEqual(["a:1", "b:1", "c:1"]);
    expect(p.leaderAddr).toBe("b:1");
    expect(p.next()).toBe("b:1");
    p.redirectTo("d:1");
    expect(p.next()).toBe("d:1");
    expect(p.addresses()).toContain("d:1");
    expect(p.next()).toBe("b:1");
  });

  it("moves away from a manager that failed, the leader included, and tries them all", () => {
    const p = new ManagerPicker([], seeded(5));
    p.observe(peers("a:1"));
    p.failed("a:1");
    const first = p.next();
    expect(first).not.toBe("a:1");
    const tried = new Set<string>([first]);
    p.failed(first);
    for (let i = 0; i < 5; i++) {
      const next = p.next();
      tried.add(next);
      p.failed(next);
    }
    expect([...tried].sort()).toEqual(["a:1", "b:1", "c:1"]);
  });

  it("never picks the manager that failed last when there is another", () => {
    const random = seeded(9);
    const p = new ManagerPicker(["a:1", "b:1"], random);
    let last = p.next();
    for (let i = 0; i < 20; i++) {
      p.failed(last);
      const next = p.next();
      expect(next).not.toBe(last);
      last = next;
    }
  });

  it("keeps dialing the only manager it knows", () => {
    const p = new ManagerPicker(["a:1"], seeded(1));
    p.failed("a:1");
    expect(p.next()).toBe("a:1");
  });

  it("a success clears the failures: the leader is preferred again", () => {
    const p = new ManagerPicker([], seeded(2));
    p.observe(peers("c:1"));
    p.failed("c:1");
    expect(p.next()).not.toBe("c:1");
    p.succeeded("c:1");
    expect(p.next()).toBe("c:1");
  });
});
