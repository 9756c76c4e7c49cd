import { describe, expect, it } from "vitest";
import { Task } from "../../proto/gen/objects.js";
import { TaskState, type TaskStatus } from "../../proto/gen/types.js";
import type { ContainerController, ContainerStatus } from "../executor/executor.js";
import { ManualClock, SimExecutor, seededRandom, turn, until, type SimExecutorOptions } from "../executor/sim/index.js";
import { Limiter } from "./limiter.js";
import { TaskController, type TaskControllerEnd } from "./task-controller.js";

const S = TaskState;
const NO_DEPS = { secrets: [], configs: [] };

function makeTask(id: string, opts: { desired?: TaskState; image?: string; healthcheck?: boolean; status?: TaskStatus } = {}): Task {
  return Task.fromPartial({
    id,
    desiredState: opts.desired ?? S.TASK_STATE_RUNNING,
    annotations: { name: `web.1.${id}` },
    status: opts.status ?? { state: S.TASK_STATE_ASSIGNED, message: "scheduler assigned task to node" },
    spec: {
      runtime: {
        $case: "container",
        container: { image: opts.image ?? "nginx:1.27", healthcheck: opts.healthcheck ? { test: ["CMD", "true"] } : undefined },
      },
    },
  });
}

function harness(task: Task, simOpts: SimExecutorOptions = {}, clock = new ManualClock()) {
  const sim = new SimExecutor({ clock, ...simOpts });
  return attach(task, sim, clock);
}

function attach(task: Task, sim: SimExecutor, clock: ManualClock) {
  const statuses: TaskStatus[] = [];
  const errors: unknown[] = [];
  const ctl = new TaskController({
    task,
    container: sim.controller(task, NO_DEPS),
    onStatus: (s) => statuses.push(s),
    clock,
    onError: (e) => errors.push(e),
  });
  let ended: TaskControllerEnd | null = null;
  void ctl.done.then((e) => (ended = e));
  ctl.start();
  const state = () => ctl.status.state;
  return {
    sim,
    clock,
    ctl,
    statuses,
    errors,
    ended: () => ended,
    state,
    names: () => statuses.map((s) => S[s.state]),
    reach: (st: TaskState, what = S[st]) => until(() => state() >= st, { clock, what }),
  };
}

function expectForwardOnly(statuses: TaskStatus[]): void {
  for (let i = 1; i < statuses.length; i++) expect(statuses[i]!.state).toBeGreaterThan(statuses[i - 1]!.state);
}

describe("TaskController life cycle (sim executor)", () => {
  it("runs a task to COMPLETE with SwarmKit's messages, timestamps and the container status", async () => {
    const h = harness(makeTask("t1"), { defaults: { prepareDelayMs: 10, startDelayMs: 5, runMs: 50 } });
    const t0 = h.clock.now();
    await h.reach(S.TASK_STATE_COMPLETE);
    expect(h.names()).toEqual([
      "TASK_STATE_ACCEPTED",
      "TASK_STATE_PREPARING",
      "TASK_STATE_READY",
      "TASK_STATE_STARTING",
      "TASK_STATE_RUNNING",
      "TASK_STATE_COMPLETE",
    ]);
    expect(h.statuses.map((s) => s.message)).toEqual(["accepted", "preparing", "prepared", "starting", "started", "finished"]);
    expect(h.statuses.map((s) => s.timestampUnixMs - t0)).toEqual([0, 0, 10, 10, 15, 65]);
    const running = h.statuses[4]!;
    expect(running.container?.containerId).toMatch(/^sim/);
    expect(running.container?.pid).toBeGreaterThan(0);
    const done = h.statuses[5]!;
    expect(done.err).toBe("");
    expect(done.container).toEqual({ containerId: running.container!.containerId, pid: 0, exitCode: 0 });
    expect(h.statuses[2]!.container).toBeUndefined(); // container status from STARTING on, as SwarmKit
  });

  it("fails a task whose container exits non-zero, with docker's error and the exit code", async () => {
    const h = harness(makeTask("t1"), { defaults: { runMs: 20, exitCode: 3 } });
    await h.reach(S.TASK_STATE_FAILED);
    const last = h.statuses.at(-1)!;
    expect(last.state).toBe(S.TASK_STATE_FAILED);
    expect(last.err).toBe("task: non-zero exit (3)");
    expect(last.message).toBe("started"); // SwarmKit's fatal() keeps the message
    expect(last.container?.exitCode).toBe(3);
    expectForwardOnly(h.statuses);
  });

  it("a container killed (137) fails the task", async () => {
    const h = harness(makeTask("t1"));
    await h.reach(S.TASK_STATE_RUNNING);
    h.sim.kill("t1", 137, "OOMKilled");
    await h.reach(S.TASK_STATE_FAILED);
    expect(h.statuses.at(-1)!.err).toBe("task: non-zero exit (137): OOMKilled");
    expect(h.statuses.at(-1)!.container?.exitCode).toBe(137);
  });

  it("stops at READY while the desired state is READY, and goes on when it becomes RUNNING", async () => {
    const task = makeTask("t1", { desired: S.TASK_STATE_READY });
    const h = harness(task, { defaults: { prepareDelayMs: 10 } });
    await h.reach(S.TASK_STATE_READY);
    for (let i = 0; i < 20; i++) {
      await turn();
      h.clock.runNext();
    }
    expect(h.state()).toBe(S.TASK_STATE_READY);
    expect(h.sim.container("t1")?.state).toBe("created");
    expect(h.sim.stats().starts).toBe(0);
    h.ctl.update({ ...task, desiredState: S.TASK_STATE_RUNNING });
    await h.reach(S.TASK_STATE_RUNNING);
    expect(h.names().slice(-3)).toEqual(["TASK_STATE_READY", "TASK_STATE_STARTING", "TASK_STATE_RUNNING"]);
    expect(h.sim.stats().starts).toBe(1);
  });

  it("ignores an update that lowers the desired state", async () => {
    const task = makeTask("t1");
    const h = harness(task);
    await h.reach(S.TASK_STATE_RUNNING);
    h.ctl.update({ ...task, desiredState: S.TASK_STATE_READY });
    expect(h.ctl.task.desiredState).toBe(S.TASK_STATE_RUNNING);
  });

  it("SHUTDOWN while running stops the container (after its stop delay) and reports SHUTDOWN, not FAILED", async () => {
    const task = makeTask("t1");
    const h = harness(task, { defaults: { stopDelayMs: 100, stopExitCode: 143 } });
    await h.reach(S.TASK_STATE_RUNNING);
    const t = h.clock.now();
    h.ctl.update({ ...task, desiredState: S.TASK_STATE_SHUTDOWN });
    await h.reach(S.TASK_STATE_SHUTDOWN);
    const last = h.statuses.at(-1)!;
    expect(last).toMatchObject({ state: S.TASK_STATE_SHUTDOWN, message: "shutdown", err: "" });
    expect(last.timestampUnixMs - t).toBe(100);
    expect(last.container?.exitCode).toBe(143);
    expect(h.sim.container("t1")?.state).toBe("exited");
    expect(h.sim.stats().stops).toBe(1);
    for (let i = 0; i < 10; i++) await turn();
    expect(h.statuses.at(-1)!.state).toBe(S.TASK_STATE_SHUTDOWN);
    expect(h.ended()).toBeNull(); // a SHUTDOWN task keeps its container until REMOVE or unassignment
  });

  it("SHUTDOWN while preparing aborts the prepare: no container is created", async () => {
    const task = makeTask("t1");
    const h = harness(task, { defaults: { prepareDelayMs: 1_000 } });
    await until(() => h.state() === S.TASK_STATE_PREPARING);
    h.ctl.update({ ...task, desiredState: S.TASK_STATE_SHUTDOWN });
    await until(() => h.state() === S.TASK_STATE_SHUTDOWN);
    expect(h.clock.pending).toBe(0);
    expect(h.sim.container("t1")).toBeNull();
  });

  it("REMOVE stops and removes the container, then the controller ends", async () => {
    const task = makeTask("t1");
    const h = harness(task);
    await h.reach(S.TASK_STATE_RUNNING);
    h.ctl.update({ ...task, desiredState: S.TASK_STATE_REMOVE });
    await until(() => h.ended() !== null);
    expect(h.ended()).toBe("removed");
    expect(h.statuses.at(-1)!.state).toBe(S.TASK_STATE_SHUTDOWN);
    expect(h.sim.container("t1")).toBeNull();
    expect(h.sim.stats().removes).toBe(1);
  });

  it("REMOVE of a finished task removes its container without another status", async () => {
    const task = makeTask("t1");
    const h = harness(task, { defaults: { runMs: 0 } });
    await h.reach(S.TASK_STATE_COMPLETE);
    const n = h.statuses.length;
    h.ctl.update({ ...task, desiredState: S.TASK_STATE_REMOVE });
    await until(() => h.ended() !== null);
    expect(h.statuses.length).toBe(n);
    expect(h.sim.container("t1")).toBeNull();
  });

  it("a prepare failure (missing image) is REJECTED with the engine's message", async () => {
    const h = harness(makeTask("t1", { image: "nope:1" }), { missingImages: ["nope:1"] });
    await h.reach(S.TASK_STATE_REJECTED);
    expect(h.statuses.at(-1)).toMatchObject({ state: S.TASK_STATE_REJECTED, message: "preparing", err: "No such image: nope:1" });
    expect(h.sim.container("t1")).toBeNull();
  });

  it("a start failure is FAILED (SwarmKit: failures from STARTING on are FAILED)", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock });
    const task = makeTask("t1");
    const inner = sim.controller(task, NO_DEPS);
    const container: ContainerController = { ...inner, start: () => Promise.reject(new Error("OCI runtime create failed: boom")) };
    const statuses: TaskStatus[] = [];
    const ctl = new TaskController({ task, container, onStatus: (s) => statuses.push(s), clock });
    ctl.start();
    await until(() => ctl.status.state >= S.TASK_STATE_COMPLETE);
    expect(statuses.at(-1)).toMatchObject({ state: S.TASK_STATE_FAILED, message: "starting", err: "OCI runtime create failed: boom" });
  });

  it("a temporary error is retried after the retry delay, then the task goes on", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock });
    const task = makeTask("t1");
    const inner = sim.controller(task, NO_DEPS);
    let failures = 2;
    const container: ContainerController = {
      ...inner,
      prepare: (signal) => (failures-- > 0 ? Promise.reject(Object.assign(new Error("engine restarting"), { temporary: true })) : inner.prepare(signal)),
    };
    const statuses: TaskStatus[] = [];
    const ctl = new TaskController({ task, container, onStatus: (s) => statuses.push(s), clock, retryDelayMs: 1_000 });
    const t0 = clock.now();
    ctl.start();
    await until(() => ctl.status.state === S.TASK_STATE_RUNNING, { clock });
    expect(statuses.find((s) => s.state === S.TASK_STATE_READY)!.timestampUnixMs - t0).toBe(2_000);
    expect(statuses.every((s) => s.err === "")).toBe(true);
  });

  it("with a healthcheck, RUNNING only once healthy", async () => {
    const h = harness(makeTask("t1", { healthcheck: true }), { defaults: { healthDelayMs: 30 } });
    await until(() => h.sim.container("t1")?.health === "starting");
    for (let i = 0; i < 10; i++) await turn();
    expect(h.state()).toBe(S.TASK_STATE_STARTING);
    const t = h.clock.now();
    await h.reach(S.TASK_STATE_RUNNING);
    expect(h.statuses.at(-1)!.timestampUnixMs - t).toBe(30);
  });

  it("a container that never becomes healthy is stopped and FAILED as docker words it", async () => {
    const h = harness(makeTask("t1", { healthcheck: true }), { defaults: { health: "unhealthy", healthDelayMs: 30 } });
    await h.reach(S.TASK_STATE_FAILED);
    const last = h.statuses.at(-1)!;
    expect(h.names()).not.toContain("TASK_STATE_RUNNING");
    expect(last.err).toBe("task: non-zero exit (137): dockerexec: unhealthy container");
    expect(h.sim.stats().stops).toBe(1);
  });

  it("a running container that turns unhealthy is stopped and FAILED", async () => {
    const h = harness(makeTask("t1", { healthcheck: true }));
    await h.reach(S.TASK_STATE_RUNNING);
    h.sim.setHealth("t1", "unhealthy");
    await h.reach(S.TASK_STATE_FAILED);
    expect(h.statuses.at(-1)!.err).toBe("task: non-zero exit (137): dockerexec: unhealthy container");
  });

  it("an exit 0 before the healthcheck settles reports RUNNING then COMPLETE (as docker's Start returns nil)", async () => {
    const h = harness(makeTask("t1", { healthcheck: true }), { defaults: { healthDelayMs: 100, runMs: 10 } });
    await h.reach(S.TASK_STATE_COMPLETE);
    expect(h.names().slice(-3)).toEqual(["TASK_STATE_STARTING", "TASK_STATE_RUNNING", "TASK_STATE_COMPLETE"]);
  });
});

describe("TaskController recovery", () => {
  it("adopts a running container without restarting it (stored RUNNING: nothing new to report)", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock });
    const first = attach(makeTask("t1"), sim, clock);
    await first.reach(S.TASK_STATE_RUNNING);
    await first.ctl.close();
    expect(sim.startCount("t1")).toBe(1);

    const second = attach(makeTask("t1", { status: first.ctl.status }), sim, clock);
    for (let i = 0; i < 10; i++) await turn();
    expect(second.statuses).toEqual([]);
    expect(second.state()).toBe(S.TASK_STATE_RUNNING);
    expect(sim.startCount("t1")).toBe(1);
    sim.kill("t1", 2);
    await second.reach(S.TASK_STATE_FAILED);
    expect(second.statuses.at(-1)!.err).toBe("task: non-zero exit (2)");
  });

  it("a controller that only knows ASSIGNED (a crash before it reported) adopts the running container without restarting it", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock });
    const first = attach(makeTask("t1"), sim, clock);
    await first.reach(S.TASK_STATE_RUNNING);
    const containerId = first.ctl.status.container?.containerId;
    await first.ctl.close();
    const second = attach(makeTask("t1"), sim, clock);
    await second.reach(S.TASK_STATE_RUNNING);
    expect(second.names()).toEqual(["TASK_STATE_ACCEPTED", "TASK_STATE_PREPARING", "TASK_STATE_READY", "TASK_STATE_STARTING", "TASK_STATE_RUNNING"]);
    expect(second.ctl.status.container?.containerId).toBe(containerId);
    expect(sim.stats()).toMatchObject({ creates: 1, starts: 1 });
  });

  it("a fresh task does not look for a container before preparing one", async () => {
    const container = new ScriptedContainer();
    const ctl = new TaskController({ task: makeTask("t1"), container, onStatus: () => {}, clock: new ManualClock() });
    ctl.start();
    await until(() => container.pending.length > 0);
    expect(container.pending.map((p) => p.op)).toEqual(["prepare"]);
    let closed = false;
    void ctl.close().then(() => (closed = true)); // close() waits for the operation in flight
    await until(() => {
      for (const p of [...container.pending]) p.settle(true);
      return closed;
    });
  });

  it("a container that exited while the agent was away settles the task", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock, defaults: { runMs: 100, exitCode: 0 } });
    const first = attach(makeTask("t1"), sim, clock);
    await first.reach(S.TASK_STATE_RUNNING);
    await first.ctl.close();
    clock.advance(100);
    expect(sim.container("t1")?.state).toBe("exited");
    const second = attach(makeTask("t1", { status: first.ctl.status }), sim, clock);
    await second.reach(S.TASK_STATE_COMPLETE);
    expect(second.names()).toEqual(["TASK_STATE_COMPLETE"]);
  });

  it("a RUNNING task whose container vanished fails with the engine's error", async () => {
    const clock = new ManualClock();
    const sim = new SimExecutor({ clock });
    const running: TaskStatus = { ...makeTask("t1").status!, state: S.TASK_STATE_RUNNING, message: "started" };
    const h = attach(makeTask("t1", { status: running }), sim, clock);
    await h.reach(S.TASK_STATE_FAILED);
    expect(h.statuses.at(-1)!.err).toBe("No such container: web.1.t1");
  });
});

/**
 * A container controller whose every operation and event the test schedules: operations wait in
 * `pending` until resolved or failed, events can arrive at any time and in any order.
 */
class ScriptedContainer implements ContainerController {
  readonly pending: Array<{ op: string; settle: (ok: boolean) => void }> = [];
  readonly listeners = new Set<(s: ContainerStatus) => void>();
  current: ContainerStatus | null = null;

  #op<T>(op: string, onOk: () => T, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = {
        op,
        settle: (ok: boolean) => {
          const i = this.pending.indexOf(entry);
          if (i < 0) return;
          this.pending.splice(i, 1);
          if (ok) resolve(onOk());
          else reject(new Error(`${op} failed`));
        },
      };
      signal?.addEventListener("abort", () => entry.settle(false), { once: true });
      this.pending.push(entry);
    });
  }
  prepare(signal: AbortSignal) {
    return this.#op("prepare", () => void (this.current ??= { containerId: "c1", state: "created" }), signal);
  }
  start() {
    return this.#op("start", () => void (this.current = { containerId: "c1", state: "running", pid: 7 }));
  }
  wait(signal: AbortSignal) {
    return this.#op("wait", () => ({ containerId: "c1", state: "exited", exitCode: 1 }), signal);
  }
  shutdown() {
    return this.#op("shutdown", () => undefined);
  }
  remove() {
    return this.#op("remove", () => void (this.current = null));
  }
  inspect() {
    return this.#op("inspect", () => this.current);
  }
  onChange(listener: (s: ContainerStatus) => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(s: ContainerStatus) {
    for (const l of [...this.listeners]) l(s);
  }
}

describe("TaskController never moves backwards", () => {
  const EVENTS: ContainerStatus[] = [
    { containerId: "c1", state: "created" },
    { containerId: "c1", state: "running", health: "starting" },
    { containerId: "c1", state: "running", health: "healthy" },
    { containerId: "c1", state: "running", health: "unhealthy" },
    { containerId: "c1", state: "running" },
    { containerId: "c1", state: "exited", exitCode: 0 },
    { containerId: "c1", state: "exited", exitCode: 137 },
  ];
  const DESIRED = [S.TASK_STATE_READY, S.TASK_STATE_RUNNING, S.TASK_STATE_SHUTDOWN, S.TASK_STATE_REMOVE];

  it("under random interleavings of operations, container events and desired-state changes (200 seeds)", async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      const clock = new ManualClock();
      const container = new ScriptedContainer();
      const statuses: TaskStatus[] = [];
      let task = makeTask("t1", { desired: pick([S.TASK_STATE_READY, S.TASK_STATE_RUNNING]) });
      const ctl = new TaskController({ task, container, onStatus: (s) => statuses.push(s), clock, retryDelayMs: 10 });
      ctl.start();
      for (let step = 0; step < 80; step++) {
        const r = random();
        if (r < 0.45 && container.pending.length > 0) pick(container.pending).settle(random() < 0.9);
        else if (r < 0.75) container.emit({ ...pick(EVENTS) });
        else if (r < 0.85) {
          task = { ...task, desiredState: pick(DESIRED) };
          ctl.update(task);
        } else clock.runNext();
        await Promise.resolve();
        await Promise.resolve();
      }
      try {
        expectForwardOnly(statuses);
        for (const s of statuses) {
          if (s.state === S.TASK_STATE_REJECTED) expect(statuses.some((x) => x.state >= S.TASK_STATE_STARTING && x.state < S.TASK_STATE_COMPLETE)).toBe(false);
        }
        expect(statuses.filter((s) => s.state >= S.TASK_STATE_COMPLETE).length).toBeLessThanOrEqual(1);
      } catch (err) {
        throw new Error(`seed ${seed}: ${statuses.map((s) => S[s.state]).join(" → ")}: ${String(err)}`, { cause: err });
      }
      // close() waits for the operation in flight: let every pending one finish.
      let closed = false;
      void ctl.close().then(() => (closed = true));
      await until(() => {
        for (const p of [...container.pending]) p.settle(true);
        return closed;
      });
    }
  });

  it("a stale 'running' event after the exit does not revive the task", async () => {
    const clock = new ManualClock();
    const container = new ScriptedContainer();
    const statuses: TaskStatus[] = [];
    const ctl = new TaskController({ task: makeTask("t1"), container, onStatus: (s) => statuses.push(s), clock });
    ctl.start();
    const settle = async (op: string) => {
      await until(() => container.pending.some((p) => p.op === op), { what: op });
      container.pending.find((p) => p.op === op)!.settle(true);
    };
    await settle("prepare");
    await settle("start");
    await settle("inspect");
    await until(() => ctl.status.state === S.TASK_STATE_RUNNING);
    container.emit({ containerId: "c1", state: "exited", exitCode: 0 });
    container.emit({ containerId: "c1", state: "running" });
    await until(() => ctl.status.state === S.TASK_STATE_COMPLETE);
    for (let i = 0; i < 5; i++) await turn();
    expect(container.pending.map((p) => p.op)).toEqual([]); // the outstanding wait() was aborted
    expect(container.listeners.size).toBe(0); // and the events unsubscribed
    expect(statuses.map((s) => S[s.state]).slice(-2)).toEqual(["TASK_STATE_RUNNING", "TASK_STATE_COMPLETE"]);
    await ctl.close();
  });
});

describe("TaskController bring-up slots", () => {
  /** Settles `ctl`'s pending operations until it closed (close() waits for the one in flight). */
  async function closeAll(ctls: TaskController[], containers: ScriptedContainer[]): Promise<void> {
    let closed = 0;
    for (const c of ctls) void c.close().then(() => closed++);
    await until(() => {
      for (const c of containers) for (const p of [...c.pending]) p.settle(true);
      return closed === ctls.length;
    });
  }

  it("keeps the slot from prepare through start, so the next task prepares only once the first started", async () => {
    const limiter = new Limiter(1);
    const [a, b] = [new ScriptedContainer(), new ScriptedContainer()];
    const clock = new ManualClock();
    const ctlA = new TaskController({ task: makeTask("a"), container: a, onStatus: () => {}, clock, bringUpLimiter: limiter });
    const ctlB = new TaskController({ task: makeTask("b"), container: b, onStatus: () => {}, clock, bringUpLimiter: limiter });
    ctlA.start();
    ctlB.start();
    const settle = async (c: ScriptedContainer, op: string) => {
      await until(() => c.pending.some((p) => p.op === op), { what: op });
      c.pending.find((p) => p.op === op)!.settle(true);
    };
    await settle(a, "prepare");
    await until(() => a.pending.some((p) => p.op === "start"), { what: "start of a" });
    expect(b.pending).toEqual([]); // b waits for the slot while a starts
    expect([limiter.active, limiter.waiting]).toEqual([1, 1]);
    await settle(a, "start");
    await until(() => b.pending.some((p) => p.op === "prepare"), { what: "prepare of b" });
    await closeAll([ctlA, ctlB], [a, b]);
    expect([limiter.active, limiter.waiting]).toEqual([0, 0]);
  });

  it("a task held at READY gives its slot back after prepare; one told to stop while preparing gives it back", async () => {
    const limiter = new Limiter(1);
    const [a, b] = [new ScriptedContainer(), new ScriptedContainer()];
    const clock = new ManualClock();
    const ctlA = new TaskController({ task: makeTask("a", { desired: S.TASK_STATE_READY }), container: a, onStatus: () => {}, clock, bringUpLimiter: limiter });
    ctlA.start();
    await until(() => a.pending.some((p) => p.op === "prepare"));
    a.pending[0]!.settle(true);
    await until(() => ctlA.status.state === S.TASK_STATE_READY);
    expect(limiter.active).toBe(0);

    const ctlB = new TaskController({ task: makeTask("b"), container: b, onStatus: () => {}, clock, bringUpLimiter: limiter });
    ctlB.start();
    await until(() => b.pending.some((p) => p.op === "prepare"));
    expect(limiter.active).toBe(1);
    ctlB.update(makeTask("b", { desired: S.TASK_STATE_SHUTDOWN })); // told to stop while it prepares: prepare aborted
    await until(() => limiter.active === 0, { what: "b's slot back" });
    await closeAll([ctlA, ctlB], [a, b]);
  });
});
