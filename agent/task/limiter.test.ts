import { describe, expect, it } from "vitest";
import { turn } from "../executor/sim/drive.js";
import { Limiter } from "./limiter.js";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("Limiter", () => {
  it("runs at most `limit` operations at once, the rest in arrival order", async () => {
    const limiter = new Limiter(2);
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((g, i) => limiter.run(undefined, async () => (started.push(i), g.promise)));
    await turn();
    expect(started).toEqual([0, 1]);
    expect([limiter.active, limiter.waiting]).toEqual([2, 2]);
    gates[1]!.resolve();
    await turn();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve();
    gates[2]!.resolve();
    gates[3]!.resolve();
    await Promise.all(runs);
    expect(started).toEqual([0, 1, 2, 3]);
    expect([limiter.active, limiter.waiting]).toEqual([0, 0]);
  });

  it("an abort while waiting leaves the queue; a failing operation frees its slot", async () => {
    const limiter = new Limiter(1);
    const gate = deferred();
    const first = limiter.run(undefined, () => gate.promise);
    const abort = new AbortController();
    const waiting = limiter.run(abort.signal, async () => "never");
    abort.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
    expect(limiter.waiting).toBe(0);
    gate.resolve();
    await first;
    await expect(limiter.run(undefined, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await limiter.run(undefined, async () => 42)).toBe(42);
  });

  it("acquire() holds a slot until its release, which counts once however often it is called", async () => {
    const limiter = new Limiter(1);
    const release = await limiter.acquire(undefined);
    const next = limiter.acquire(undefined);
    await turn();
    expect([limiter.active, limiter.waiting]).toEqual([1, 1]);
    release();
    release();
    const releaseNext = await next;
    expect([limiter.active, limiter.waiting]).toEqual([1, 0]);
    releaseNext();
    expect(limiter.active).toBe(0);
  });

  it("refuses a limit below 1", () => {
    expect(() => new Limiter(0)).toThrow(RangeError);
  });
});
