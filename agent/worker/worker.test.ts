import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Config, Secret, Task } from "../../proto/gen/objects.js";
import { TaskState, type TaskStatus } from "../../proto/gen/types.js";
import type { Executor, TaskDependencies } from "../executor/executor.js";
import { ManualClock, SimExecutor, until, type SimExecutorOptions } from "../executor/sim/index.js";
import type { Assignments, TaskStatusUpdate } from "./assignments.js";
import { MemoryTaskStore } from "./task-db.js";
import { Worker, type WorkerOptions } from "./worker.js";

const S = TaskState;

function makeTask(
  id: string,
  opts: { desired?: TaskState; labels?: Record<string, string>; secrets?: string[]; configs?: string[]; image?: string } = {},
): Task {
  return Task.fromPartial({
    id,
    nodeId: "node-1",
    serviceId: "svc",
    desiredState: opts.desired ?? S.TASK_STATE_RUNNING,
    annotations: { name: `web.1.${id}`, labels: { marker: `task-marker-${id}` } },
    status: { state: S.TASK_STATE_ASSIGNED, message: "scheduler assigned task to node", timestampUnixMs: 1 },
    spec: {
      runtime: {
        $case: "container",
        container: {
          image: opts.image ?? "nginx:1.27",
          labels: opts.labels ?? {},
          secrets: (opts.secrets ?? []).map((s) => ({ secretId: s, secretName: `name-${s}`, file: { name: s, uid: "0", gid: "0" } })),
          configs: (opts.configs ?? []).map((c) => ({ configId: c, configName: `name-${c}`, file: { name: `/${c}`, uid: "0", gid: "0" } })),
        },
      },
    },
  });
}

function complete(tasks: Task[], secrets: Secret[] = [], configs: Config[] = []): Assignments {
  return { type: "complete", tasks, removedTaskIds: [], secrets, removedSecretIds: [], configs, removedConfigIds: [] };
}

function incremental(change: Partial<Assignments>): Assignments {
  return { type: "incremental", tasks: [], removedTaskIds: [], secrets: [], removedSecretIds: [], configs: [], removedConfigIds: [], ...change };
}

/** Collects what the worker reports; can be made to fail (no manager reachable). */
class Reports {
  readonly batches: TaskStatusUpdate[][] = [];
  readonly #byTask = new Map<string, TaskStatus[]>();
  failing = false;
  readonly report = async (updates: TaskStatusUpdate[]): Promise<void> => {
    if (this.failing) throw new Error("no manager reachable");
    this.batches.push(updates);
    for (const u of updates) {
      const list = this.#byTask.get(u.taskId) ?? [];
      list.push(u.status);
      this.#byTask.set(u.taskId, list);
    }
  };
  /** Every reported status of a task, in order. */
  of(taskId: string): TaskStatus[] {
    return this.#byTask.get(taskId) ?? [];
  }
  last(taskId: string): TaskStatus | undefined {
    return this.of(taskId).at(-1);
  }
}

let dir: string;
let workers: Worker[];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "swarm-worker-"));
  workers = [];
});

afterEach(async () => {
  for (const w of workers) await w.close().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

function setup(simOpts: SimExecutorOptions = {}) {
  const clock = new ManualClock();
  const sim = new SimExecutor({ clock, ...simOpts });
  return { clock, sim };
}

async function open(executor: Executor, clock: ManualClock, reports: Reports, extra: Partial<WorkerOptions> = {}): Promise<Worker> {
  const w = await Worker.open({ dbPath: path.join(dir, "agent", "db"), executor, report: reports.report, clock, ...extra });
  workers.push(w);
  return w;
}

function stateOf(w: Worker, id: string): TaskState | undefined {
  return w.status(id)?.state;
}

function expectForwardOnly(reports: Reports, ids: Iterable<string>): void {
  for (const id of ids) {
    const states = reports.of(id).map((s) => s.state);
    for (let i = 1; i < states.length; i++) expect(states[i], `${id}: ${states.join(",")}`).toBeGreaterThan(states[i - 1]!);
  }
}

describe("Worker", () => {
  it("runs a complete set and reports every state change", async () => {
    const { clock, sim } = setup({ defaults: { prepareDelayMs: 5 } });
    const reports = new Reports();
    const w = await open(sim, clock, reports);
    await w.assign(complete([makeTask("a"), makeTask("b"), makeTask("c")]));
    await until(() => ["a", "b", "c"].every((id) => stateOf(w, id) === S.TASK_STATE_RUNNING), { clock });
    await w.flush();
    for (const id of ["a", "b", "c"]) {
      expect(reports.of(id).map((s) => S[s.state])).toEqual([
        "TASK_STATE_ACCEPTED",
        "TASK_STATE_PREPARING",
        "TASK_STATE_READY",
        "TASK_STATE_STARTING",
        "TASK_STATE_RUNNING",
      ]);
    }
    expect(sim.stats()).toMatchObject({ creates: 3, starts: 3 });
  });

  it("an incremental set changes only what it names; a complete set drops what it lacks", async () => {
    const { clock, sim } = setup();
    const reports = new Reports();
    const w = await open(sim, clock, reports);
    const [a, b, c] = [makeTask("a"), makeTask("b"), makeTask("c")];
    await w.assign(complete([a, b, c]));
    await until(() => ["a", "b", "c"].every((id) => stateOf(w, id) === S.TASK_STATE_RUNNING), { clock });

    // Incremental: a is shut down, b is unassigned (its container removed), d is new, c untouched.
    await w.assign(incremental({ tasks: [{ ...a, desiredState: S.TASK_STATE_SHUTDOWN }, makeTask("d")], removedTaskIds: ["b"] }));
    await until(() => stateOf(w, "a") === S.TASK_STATE_SHUTDOWN && stateOf(w, "d") === S.TASK_STATE_RUNNING, { clock });
    await w.flush();
    expect(sim.container("b")).toBeNull();
    expect(w.status("b")).toBeUndefined();
    expect(sim.container("a")?.state).toBe("exited"); // SHUTDOWN keeps the stopped container
    expect(sim.startCount("c")).toBe(1);
    expect(reports.last("c")!.state).toBe(S.TASK_STATE_RUNNING);

    // Complete: only c and d remain; a's stopped container goes too.
    await w.assign(complete([c, makeTask("d")]));
    await w.flush();
    expect(sim.container("a")).toBeNull();
    expect([...(await sim.owned()).keys()].sort()).toEqual(["c", "d"]);
    expect([...w.statuses().keys()].sort()).toEqual(["c", "d"]);
    expect(sim.startCount("c")).toBe(1);
    expectForwardOnly(reports, ["a", "b", "c", "d"]);
  });

  it("removes containers of tasks it does not know once a complete set arrives", async () => {
    const { clock, sim } = setup();
    const stray = sim.controller(makeTask("stray"), { secrets: [], configs: [] });
    await stray.prepare(new AbortController().signal);
    await stray.start();
    const w = await open(sim, clock, new Reports());
    await w.assign(complete([makeTask("a")]));
    await w.flush();
    expect(sim.container("stray")).toBeNull();
    expect(sim.container("a")).not.toBeNull();
  });

  it("desired REMOVE shuts the task down, removes its container and forgets it", async () => {
    const { clock, sim } = setup();
    const reports = new Reports();
    const w = await open(sim, clock, reports);
    const a = makeTask("a");
    await w.assign(complete([a]));
    await until(() => stateOf(w, "a") === S.TASK_STATE_RUNNING, { clock });
    await w.assign(incremental({ tasks: [{ ...a, desiredState: S.TASK_STATE_REMOVE }] }));
    await until(() => w.status("a") === undefined, { clock });
    await w.flush();
    expect(reports.last("a")).toMatchObject({ state: S.TASK_STATE_SHUTDOWN, message: "shutdown" });
    expect(sim.container("a")).toBeNull();
    await w.close();
    const again = await open(sim, clock, new Reports());
    expect(again.statuses().size).toBe(0);
  });

  it("after a restart, adopts running containers without restarting them and re-reports RUNNING", async () => {
    const { clock, sim } = setup({ defaults: { prepareDelayMs: 3 } });
    const first = await open(sim, clock, new Reports());
    const tasks = ["a", "b", "c"].map((id) => makeTask(id));
    const gated = makeTask("g", { desired: S.TASK_STATE_READY });
    await first.assign(complete([...tasks, gated]));
    await until(() => tasks.every((t) => stateOf(first, t.id) === S.TASK_STATE_RUNNING) && stateOf(first, "g") === S.TASK_STATE_READY, { clock });
    await first.close(); // the agent stops; containers keep running
    const starts = sim.stats().starts;
    expect(starts).toBe(3);

    const reports = new Reports();
    const second = await open(sim, clock, reports);
    await second.flush();
    for (const t of tasks) expect(reports.last(t.id)).toMatchObject({ state: S.TASK_STATE_RUNNING, message: "started" });
    expect(reports.last("g")!.state).toBe(S.TASK_STATE_READY);
    expect(sim.stats().starts).toBe(starts);

    // No manager yet: the tasks keep running and are still driven (a crash is noticed).
    sim.kill("b", 1);
    await until(() => stateOf(second, "b") === S.TASK_STATE_FAILED, { clock });
    expect(second.status("b")!.err).toBe("task: non-zero exit (1)");

    // Reconnected: everything is re-sent, and the manager's complete set changes nothing running.
    const before = reports.batches.length;
    await second.reportAll();
    expect(reports.batches.slice(before).flat().map((u) => [u.taskId, S[u.status.state]]).sort()).toEqual([
      ["a", "TASK_STATE_RUNNING"],
      ["b", "TASK_STATE_FAILED"],
      ["c", "TASK_STATE_RUNNING"],
      ["g", "TASK_STATE_READY"],
    ]);
    await second.assign(complete([...tasks, { ...gated, desiredState: S.TASK_STATE_RUNNING }]));
    await until(() => stateOf(second, "g") === S.TASK_STATE_RUNNING, { clock });
    await second.flush();
    expect(sim.startCount("a")).toBe(1);
    expect(sim.startCount("c")).toBe(1);
    expect(sim.stats().starts).toBe(starts + 1); // only g started
  });

  it("keeps running and reporting locally while reports fail; reportAll catches up", async () => {
    const { clock, sim } = setup();
    const reports = new Reports();
    reports.failing = true;
    const w = await open(sim, clock, reports);
    const warnings: Error[] = [];
    w.on("warning", (e) => warnings.push(e));
    await w.assign(complete([makeTask("a")]));
    await until(() => stateOf(w, "a") === S.TASK_STATE_RUNNING, { clock });
    await w.flush();
    expect(reports.batches).toEqual([]);
    expect(warnings.some((e) => e.message === "no manager reachable")).toBe(true);
    reports.failing = false;
    await w.reportAll();
    expect(reports.last("a")!.state).toBe(S.TASK_STATE_RUNNING);
  });

  it("hands a task its own secrets and configs, and rejects a task whose secret is missing", async () => {
    const { clock, sim } = setup();
    const seen = new Map<string, TaskDependencies>();
    const executor: Executor = {
      describe: () => sim.describe(),
      owned: () => sim.owned(),
      close: () => sim.close(),
      controller: (task, deps) => {
        seen.set(task.id, deps);
        return sim.controller(task, deps);
      },
    };
    const w = await open(executor, clock, new Reports());
    const s1 = Secret.fromPartial({ id: "s1", spec: { annotations: { name: "db-password" }, data: Buffer.from("one") } });
    const s2 = Secret.fromPartial({ id: "s2", spec: { annotations: { name: "other" }, data: Buffer.from("two") } });
    const c1 = Config.fromPartial({ id: "c1", spec: { annotations: { name: "conf" }, data: Buffer.from("x") } });
    await w.assign(complete([makeTask("a", { secrets: ["s1"], configs: ["c1"] }), makeTask("b", { secrets: ["nope"] })], [s1, s2], [c1]));
    await until(() => stateOf(w, "a") === S.TASK_STATE_RUNNING && stateOf(w, "b") === S.TASK_STATE_REJECTED, { clock });
    expect(seen.get("a")!.secrets.map((s) => s.id)).toEqual(["s1"]);
    expect(seen.get("a")!.configs.map((c) => c.id)).toEqual(["c1"]);
    expect(w.status("b")).toMatchObject({ state: S.TASK_STATE_REJECTED, err: "secret nope not found" });
  });

  it("never writes secret or config values to its database", async () => {
    const { clock, sim } = setup();
    const canary = "c4n4ry-7f3a9e1b5d2c8046-s3cr3t";
    const configCanary = "cfg-9b8e7d6c5a4f3e2d-v4lu3";
    const secret = Secret.fromPartial({ id: "s1", spec: { annotations: { name: "db-password" }, data: Buffer.from(canary) } });
    const config = Config.fromPartial({ id: "c1", spec: { annotations: { name: "conf" }, data: Buffer.from(configCanary) } });
    const w = await open(sim, clock, new Reports());
    const tasks = Array.from({ length: 20 }, (_, i) => makeTask(`t${i}`, { secrets: ["s1"], configs: ["c1"] }));
    await w.assign(complete(tasks, [secret], [config]));
    await w.assign(incremental({ secrets: [secret], configs: [config] }));
    await until(() => tasks.every((t) => stateOf(w, t.id) === S.TASK_STATE_RUNNING), { clock });
    await w.close();

    const dbDir = path.join(dir, "agent", "db");
    const files = await readdir(dbDir);
    const contents = Buffer.concat(await Promise.all(files.map((f) => readFile(path.join(dbDir, f)))));
    expect(contents.includes(Buffer.from("task-marker-t7"))).toBe(true); // the scan sees what is written
    expect(contents.includes(Buffer.from(canary))).toBe(false);
    expect(contents.includes(Buffer.from(configCanary))).toBe(false);
  });

  it("after a restart, a task still to be prepared waits for its secrets from the next assignments", async () => {
    const { clock, sim } = setup();
    const secret = Secret.fromPartial({ id: "s1", spec: { annotations: { name: "pw" }, data: Buffer.from("pw") } });
    const gated = makeTask("g", { desired: S.TASK_STATE_READY, secrets: ["s1"] });
    const first = await open(sim, clock, new Reports());
    await first.assign(complete([gated], [secret]));
    await until(() => stateOf(first, "g") === S.TASK_STATE_READY, { clock });
    await first.close();

    const reports = new Reports();
    const second = await open(sim, clock, reports);
    await second.flush();
    expect(second.status("g")!.state).toBe(S.TASK_STATE_READY);
    await second.assign(complete([{ ...gated, desiredState: S.TASK_STATE_RUNNING }], [secret]));
    await until(() => stateOf(second, "g") === S.TASK_STATE_RUNNING, { clock });
    expect(reports.of("g").every((s) => s.err === "")).toBe(true);
  });

  it("runs 1,000 tasks to completion, preparing at most 4 at a time", async () => {
    const { clock, sim } = setup({ defaults: { prepareDelayMs: 2, startDelayMs: 1, runMs: 20 } });
    let preparing = 0;
    let maxPreparing = 0;
    const executor: Executor = {
      describe: () => sim.describe(),
      owned: () => sim.owned(),
      close: () => sim.close(),
      controller: (task, deps) => {
        const c = sim.controller(task, deps);
        return {
          ...c,
          prepare: async (signal) => {
            maxPreparing = Math.max(maxPreparing, ++preparing);
            try {
              await c.prepare(signal);
            } finally {
              preparing--;
            }
          },
        };
      },
    };
    const reports = new Reports();
    const w = await open(executor, clock, reports);
    let completed = 0;
    w.on("status", (_id, s) => void (s.state === S.TASK_STATE_COMPLETE && completed++));
    const tasks = Array.from({ length: 1000 }, (_, i) => makeTask(`t${String(i).padStart(4, "0")}`));
    await w.assign(complete(tasks));
    await until(() => completed === 1000, { clock, maxTurns: 200_000 });
    expect([...w.statuses().values()].every((s) => s.state === S.TASK_STATE_COMPLETE)).toBe(true);
    await w.flush();
    expect(maxPreparing).toBe(4);
    expect(sim.stats()).toMatchObject({ creates: 1000, starts: 1000 });
    for (const t of tasks) expect(reports.last(t.id)).toMatchObject({ state: S.TASK_STATE_COMPLETE, message: "finished" });
    expect(reports.batches.length).toBeLessThan(1000 * 6); // coalesced into batches
    expectForwardOnly(reports, tasks.map((t) => t.id));
  });

  it("rejects a task the executor cannot make a controller for", async () => {
    const { clock, sim } = setup();
    const executor: Executor = {
      describe: () => sim.describe(),
      owned: () => sim.owned(),
      close: () => sim.close(),
      controller: (task, deps) => {
        if (task.id === "bad") throw new Error("unsupported runtime");
        return sim.controller(task, deps);
      },
    };
    const w = await open(executor, clock, new Reports());
    await w.assign(complete([makeTask("bad"), makeTask("good")]));
    await until(() => stateOf(w, "bad") === S.TASK_STATE_REJECTED && stateOf(w, "good") === S.TASK_STATE_RUNNING, { clock });
    expect(w.status("bad")!.err).toBe("unsupported runtime");
  });

  it("works on a memory store too: the same store plays an agent restart", async () => {
    const { clock, sim } = setup();
    const store = new MemoryTaskStore();
    const first = await Worker.open({ store, executor: sim, report: new Reports().report, clock });
    await first.assign(complete([makeTask("a")]));
    await until(() => stateOf(first, "a") === S.TASK_STATE_RUNNING, { clock });
    await first.close();
    const reports = new Reports();
    const second = await Worker.open({ store, executor: sim, report: reports.report, clock });
    workers.push(second);
    await second.flush();
    expect(reports.last("a")!.state).toBe(S.TASK_STATE_RUNNING);
    expect(sim.startCount("a")).toBe(1);
  });
});
