import { describe, expect, it } from "vitest";
import { Task } from "../../../proto/gen/objects.js";
import type { ContainerStatus, LogReadOptions } from "../executor.js";
import { ManualClock } from "./manual-clock.js";
import { behaviourFromLabels, SimExecutor, simLogLines } from "./sim-executor.js";
import { turn, until } from "./drive.js";

const NO_DEPS = { secrets: [], configs: [] };

function makeTask(id: string, labels: Record<string, string> = {}, image = "busybox:1"): Task {
  return Task.fromPartial({
    id,
    annotations: { name: `svc.1.${id}` },
    spec: { runtime: { $case: "container", container: { image, labels } } },
  });
}

describe("ManualClock", () => {
  it("fires timers in due order, then creation order, including timers set while firing", () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimer(() => fired.push("b@20"), 20);
    clock.setTimer(() => {
      fired.push("a@10");
      clock.setTimer(() => fired.push("c@15"), 5);
    }, 10);
    clock.setTimer(() => fired.push("d@20"), 20);
    const cancelled = clock.setTimer(() => fired.push("never"), 12);
    cancelled.cancel();
    expect(clock.pending).toBe(3);
    clock.advance(19);
    expect(fired).toEqual(["a@10", "c@15"]);
    expect(clock.now()).toBe(1019);
    expect(clock.runNext()).toBe(true);
    expect(fired).toEqual(["a@10", "c@15", "b@20", "d@20"]);
    expect(clock.now()).toBe(1020);
    expect(clock.runNext()).toBe(false);
    expect(clock.pending).toBe(0);
  });
});

describe("SimExecutor", () => {
  it("moves a container created → running → exited after its delays, with events and wait()", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock, defaults: { prepareDelayMs: 10, startDelayMs: 5, runMs: 100, exitCode: 4 } });
    const t = makeTask("t1");
    const c = sim.controller(t, NO_DEPS);
    const events: ContainerStatus[] = [];
    c.onChange((s) => events.push(s));
    const t0 = clock.now();

    let prepared = false;
    void c.prepare(new AbortController().signal).then(() => (prepared = true));
    await turn();
    expect(prepared).toBe(false);
    clock.advance(10);
    await until(() => prepared);
    expect(await c.inspect()).toMatchObject({ state: "created" });

    let started = false;
    void c.start().then(() => (started = true));
    clock.advance(5);
    await until(() => started);
    const running = (await c.inspect())!;
    expect(running).toMatchObject({ state: "running", startedAtUnixMs: t0 + 15 });
    expect(running.pid).toBeGreaterThan(0);

    let exit: ContainerStatus | null = null;
    void c.wait(new AbortController().signal).then((s) => (exit = s));
    clock.advance(99);
    await turn();
    expect(exit).toBeNull();
    clock.advance(1);
    await until(() => exit !== null);
    expect(exit).toMatchObject({ state: "exited", exitCode: 4, finishedAtUnixMs: t0 + 115 });
    expect(events.map((e) => e.state)).toEqual(["running", "exited"]);
    expect(sim.stats()).toEqual({ creates: 1, starts: 1, stops: 0, removes: 0 });
  });

  it("keeps one timer per pending transition and none for containers that run forever", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock });
    for (let i = 0; i < 100; i++) {
      const c = sim.controller(makeTask(`f${i}`), NO_DEPS);
      await c.prepare(new AbortController().signal);
      await c.start();
    }
    expect(clock.pending).toBe(0);
    for (let i = 0; i < 100; i++) {
      const c = sim.controller(makeTask(`r${i}`, { "sim.run-ms": "50" }), NO_DEPS);
      await c.prepare(new AbortController().signal);
      await c.start();
    }
    expect(clock.pending).toBe(100);
    clock.advance(50);
    expect(clock.pending).toBe(0);
    expect([...(await sim.owned()).values()].filter((s) => s.state === "exited")).toHaveLength(100);
  });

  it("prepare adopts an existing container, fails on a missing image, and aborts", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock, missingImages: ["ghost:1"], defaults: { prepareDelayMs: 10 } });
    const c = sim.controller(makeTask("t1"), NO_DEPS);
    const p = c.prepare(new AbortController().signal);
    clock.advance(10);
    await p;
    const id = sim.container("t1")!.containerId;
    await sim.controller(makeTask("t1"), NO_DEPS).prepare(new AbortController().signal); // adopted at once
    expect(sim.container("t1")!.containerId).toBe(id);
    expect(sim.stats().creates).toBe(1);

    const missing = sim.controller(makeTask("t2", {}, "ghost:1"), NO_DEPS).prepare(new AbortController().signal);
    clock.advance(10);
    await expect(missing).rejects.toThrow("No such image: ghost:1");

    const abort = new AbortController();
    const aborted = sim.controller(makeTask("t3"), NO_DEPS).prepare(abort.signal);
    abort.abort();
    await expect(aborted).rejects.toThrow();
    expect(clock.pending).toBe(0);
    expect(sim.container("t3")).toBeNull();
  });

  it("shutdown stops a running container after its stop delay; no-op on created or missing ones", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock, defaults: { stopDelayMs: 30, stopExitCode: 143 } });
    const c = sim.controller(makeTask("t1"), NO_DEPS);
    await c.shutdown(); // none yet
    await c.prepare(new AbortController().signal);
    await c.shutdown(); // created
    expect(sim.container("t1")!.state).toBe("created");
    await c.start();
    let stopped = false;
    void c.shutdown().then(() => (stopped = true));
    void c.shutdown(); // a second stop joins the first
    await turn();
    expect(stopped).toBe(false);
    clock.advance(30);
    await until(() => stopped);
    expect(sim.container("t1")).toMatchObject({ state: "exited", exitCode: 143 });
    expect(sim.stats().stops).toBe(1);
  });

  it("remove kills a running container (docker rm -f), resolves its waiters and forgets it", async () => {
    const sim = new SimExecutor({ clock: new ManualClock() });
    const c = sim.controller(makeTask("t1"), NO_DEPS);
    await c.prepare(new AbortController().signal);
    await c.start();
    const exit = c.wait(new AbortController().signal);
    await c.remove();
    await expect(exit).resolves.toMatchObject({ state: "exited", exitCode: 137 });
    expect(await c.inspect()).toBeNull();
    expect((await sim.owned()).size).toBe(0);
    await expect(c.wait(new AbortController().signal)).rejects.toThrow("No such container: svc.1.t1");
    await expect(c.start()).rejects.toThrow("No such container");
    await c.remove(); // idempotent
  });

  it("health goes starting → healthy (or unhealthy) after the health delay", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock });
    const c = sim.controller(makeTask("t1", { "sim.health": "unhealthy", "sim.health-ms": "20" }), NO_DEPS);
    const health: Array<string | undefined> = [];
    c.onChange((s) => health.push(s.health));
    await c.prepare(new AbortController().signal);
    await c.start();
    expect((await c.inspect())!.health).toBe("starting");
    clock.advance(20);
    expect(health).toEqual(["starting", "unhealthy"]);
  });

  it("crashes a seeded, repeatable share of containers", async () => {
    async function crashed(seed: number): Promise<string[]> {
      const sim = new SimExecutor({ clock: new ManualClock(), seed, failureRate: 0.3, failureExitCode: 2 });
      for (let i = 0; i < 200; i++) {
        const c = sim.controller(makeTask(`t${i}`), NO_DEPS);
        await c.prepare(new AbortController().signal);
        await c.start();
      }
      return [...(await sim.owned())].filter(([, s]) => s.state === "exited" && s.exitCode === 2).map(([id]) => id);
    }
    const a = await crashed(7);
    expect(a.length).toBeGreaterThan(30);
    expect(a.length).toBeLessThan(90);
    expect(await crashed(7)).toEqual(a);
    expect(await crashed(8)).not.toEqual(a);
  });

  it("reads behaviour from sim.* container labels", () => {
    expect(behaviourFromLabels({ "sim.run-ms": "500", "sim.exit-code": "3", "sim.health": "healthy", "sim.missing-image": "true", other: "x" })).toEqual({
      runMs: 500,
      exitCode: 3,
      health: "healthy",
      missingImage: true,
    });
    const sim = new SimExecutor({ defaults: { runMs: 10 }, behaviour: (t) => (t.id === "special" ? { exitCode: 9 } : {}) });
    expect(sim.behaviourOf(makeTask("special", { "sim.run-ms": "20" }))).toMatchObject({ runMs: 20, exitCode: 9 });
    const withCheck = Task.fromPartial({ id: "h", spec: { runtime: { $case: "container", container: { image: "x", healthcheck: { test: ["CMD", "true"] } } } } });
    expect(sim.behaviourOf(withCheck).health).toBe("healthy");
    expect(sim.behaviourOf(makeTask("plain")).health).toBe("none");
  });

  it("describes a sim engine", async () => {
    const sim = new SimExecutor({ engineLabels: { zone: "a" } });
    expect(await sim.describe()).toEqual({ engine: { engineVersion: "sim", labels: { zone: "a" }, plugins: [] } });
  });
});

describe("SimExecutor.logs", () => {
  const all: LogReadOptions = { follow: false, tail: -1, sinceUnixMs: 0, streams: [] };

  async function read(sim: SimExecutor, t: Task, opts: LogReadOptions, signal = new AbortController().signal): Promise<string[]> {
    const out: string[] = [];
    for await (const l of sim.logs(t, opts, signal)) out.push(`${l.timestamp} ${l.stream} ${l.data.toString()}`);
    return out;
  }

  it("has three deterministic lines once started, filtered by stream, since and tail", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const sim = new SimExecutor({ clock });
    const t = makeTask("t1");
    expect(await read(sim, t, all)).toEqual([]); // no container
    const c = sim.controller(t, NO_DEPS);
    await c.prepare(new AbortController().signal);
    expect(await read(sim, t, all)).toEqual([]); // created, never started
    await c.start();
    expect(await read(sim, t, all)).toEqual([
      "2023-11-14T22:13:20.001Z stdout task t1 line 1\n",
      "2023-11-14T22:13:20.002Z stderr task t1 line 2\n",
      "2023-11-14T22:13:20.003Z stdout task t1 line 3\n",
    ]);
    expect(simLogLines("t1", 1_700_000_000_000).map((l) => l.data.toString())).toEqual(["task t1 line 1\n", "task t1 line 2\n", "task t1 line 3\n"]);
    expect(await read(sim, t, { ...all, streams: ["stdout"], tail: 1 })).toEqual(["2023-11-14T22:13:20.003Z stdout task t1 line 3\n"]);
    expect(await read(sim, t, { ...all, sinceUnixMs: 1_700_000_000_002 })).toHaveLength(2);
    expect(await read(sim, t, { ...all, tail: 0 })).toEqual([]);
  });

  it("with follow, ends when the container exits or the signal aborts", async () => {
    const sim = new SimExecutor({ clock: new ManualClock() });
    const [a, b] = [makeTask("a"), makeTask("b")];
    for (const t of [a, b]) {
      const c = sim.controller(t, NO_DEPS);
      await c.prepare(new AbortController().signal);
      await c.start();
    }
    let doneA = false;
    const readA = read(sim, a, { ...all, follow: true }).then((lines) => ((doneA = true), lines));
    await turn();
    expect(doneA).toBe(false);
    sim.kill("a", 1);
    expect(await readA).toHaveLength(3);
    const abort = new AbortController();
    const readB = read(sim, b, { ...all, follow: true }, abort.signal);
    await turn();
    abort.abort();
    expect(await readB).toHaveLength(3);
  });
});
