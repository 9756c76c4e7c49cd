// Rolling updates, rollbacks and health checks on real test hosts: swarmd processes in their own
// network namespaces, two workers with their own Docker engines, driven with the real `swarm` CLI.
// While an update runs, the service's tasks are sampled through the Control API (update-watch.ts)
// to check what must hold at every moment (how many run, how many are wanted); at its end the
// store, `service inspect` and the engines' containers are checked against the new (or restored)
// spec. The last scenario kills the leader with SIGKILL in the middle of an update.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Service, Task } from "../../proto/gen/objects.js";
import type { ContainerSpec } from "../../proto/gen/specs.js";
import { TaskState, UpdateState } from "../../proto/gen/types.js";
import { TEST_IMAGE, UNHEALTHY_TEST_IMAGE } from "../hosts/docker-engine.js";
import { waitFor } from "../hosts/poll.js";
import { describeTasks, getService, running, tasksOf } from "./cluster-api.js";
import { SwarmHosts, type SwarmdHost } from "./swarm-hosts.js";
import { containerOfTask, execInContainer, tagImage } from "./task-containers.js";
import { countsOverTime, sampleDuring, wanted } from "./update-watch.js";

// h1, h2, h3 managers (drained: they have no engines of their own; h1 leads until the last
// scenario kills the leader); h4, h5 workers with engines.
let c: SwarmHosts;
let managers: SwarmdHost[];
/** Where the CLI runs and the store is read: the leader (a new one after the last scenario's kill). */
let mgr: SwarmdHost;
const hostOfNode = new Map<string, SwarmdHost>();

/** Sleeps and exits 0 on SIGTERM at once. */
const SLEEPER = ["sh", "-c", 'trap "exit 0" TERM; sleep 100000 & wait'];
/** A command that fails at once (after the container started). */
const FAILING_ARGS = "sh -c 'exit 1'";
/** The test image under a second name (tagged on the workers' engines): an image change that needs no registry. */
const NEXT_IMAGE = "swarm-test/busybox:next";
/** How long each new task is watched (updates and rollbacks): short, to keep the scenarios quick. */
const MONITOR = "3s";

beforeAll(async () => {
  c = await SwarmHosts.create(5, { engines: [3, 4] });
  managers = c.hosts.slice(0, 3);
  const workers = c.hosts.slice(3);
  mgr = managers[0]!;
  await mgr.ok("init");
  await mgr.ok("update", "--dispatcher-heartbeat", "1s");
  const managerToken = (await mgr.ok("join-token", "-q", "manager")).trim();
  for (const m of managers.slice(1)) await m.ok("join", "--token", managerToken, mgr.addr);
  const workerToken = (await mgr.ok("join-token", "-q", "worker")).trim();
  for (const w of workers) await w.ok("join", "--token", workerToken, mgr.addr);
  for (const m of ["h1", "h2", "h3"]) await mgr.ok("node", "update", "--availability", "drain", m);
  await c.untilNodes(mgr, "5 ready nodes, 3 of them drained managers", (nodes) => {
    expect(nodes.map((n) => `${n.Hostname}:${n.Status}:${n.ManagerStatus === "" ? "worker" : "manager"}`).sort()).toEqual([
      "h1:Ready:manager",
      "h2:Ready:manager",
      "h3:Ready:manager",
      "h4:Ready:worker",
      "h5:Ready:worker",
    ]);
  });
  for (const h of c.hosts) hostOfNode.set((await h.info()).nodeId, h);
  for (const w of workers) await tagImage(w, TEST_IMAGE, NEXT_IMAGE);
}, 120_000);

afterAll(async () => {
  await c?.destroy();
}, 60_000);

// ---------- helpers ----------

/** Waits until `check` accepts the service's tasks (it throws to say why not yet); returns them. */
function untilTasks(service: string, what: string, check: (tasks: Task[]) => void, timeoutMs?: number): Promise<Task[]> {
  return c.untilTasks(mgr, service, what, check, timeoutMs);
}

/** Waits until the service's update status is `state`; returns the service. */
async function untilUpdateState(service: string, state: UpdateState, timeoutMs = 60_000): Promise<Service> {
  return waitFor(
    async () => {
      const svc = await getService(mgr, service);
      const seen = svc.updateStatus;
      if (seen?.state === state) return svc;
      throw new Error(`its update status is ${UpdateState[seen?.state ?? 0]} "${seen?.message ?? ""}"`);
    },
    { timeoutMs, intervalMs: 200, what: `${service}'s update status to be ${UpdateState[state]}` },
  ).catch(c.withLogs);
}

/** Creates the service (without waiting) and waits until its `replicas` tasks run. */
async function createService(name: string, replicas: number, ...flagsAndImage: string[]): Promise<Task[]> {
  await mgr.ok("service", "create", "-d", "--name", name, "--replicas", String(replicas), ...flagsAndImage);
  return untilTasks(name, `${replicas} running`, (tasks) => expect(running(tasks)).toHaveLength(replicas));
}

async function removeService(name: string): Promise<void> {
  await mgr.ok("service", "rm", name);
  await waitFor(async () => (await tasksOf(mgr, name).catch(() => [])).length === 0 || undefined, {
    timeoutMs: 30_000,
    what: `the tasks of ${name} to be removed`,
  }).catch(c.withLogs);
}

/** The container spec a task (or a service's spec) runs. */
function containerOf(t: Pick<Task, "spec">): ContainerSpec {
  const rt = t.spec?.runtime;
  if (rt?.$case !== "container") throw new Error("not a container task");
  return rt.container;
}

/** The running tasks, after checking that each was made from the service's current spec. */
async function runningOnCurrentSpec(service: string, count: number): Promise<Task[]> {
  const svc = await getService(mgr, service);
  const tasks = running(await tasksOf(mgr, service));
  expect(tasks, describeTasks(tasks)).toHaveLength(count);
  for (const t of tasks) {
    expect(t.specVersion?.index).toBe(svc.specVersion?.index);
    expect(containerOf(t)).toEqual(containerOf({ spec: svc.spec!.task! }));
  }
  return tasks;
}

/** What the tests read of `service inspect`. */
interface InspectedSpec {
  TaskTemplate: { ContainerSpec: { Image: string; Args?: string[]; Env?: string[] }; ForceUpdate: number };
}
interface Inspected {
  Spec: InspectedSpec;
  PreviousSpec?: InspectedSpec;
  UpdateStatus?: { State?: string; Message?: string };
}

async function inspect(service: string): Promise<Inspected> {
  const [view] = JSON.parse(await mgr.ok("service", "inspect", service)) as Inspected[];
  return view!;
}

const hostOf = (t: Task): SwarmdHost => hostOfNode.get(t.nodeId)!;

/** The host whose manager `on` believes leads (undefined while there is no leader). */
async function leaderHost(on: SwarmdHost): Promise<SwarmdHost | undefined> {
  const lead = (await on.info()).raft?.members.find((m) => m.leader);
  return lead ? c.hosts.find((h) => h.addr === lead.addr) : undefined;
}

// ---------- scenarios ----------

describe("rolling updates, rollbacks and health checks on real hosts", () => {
  it("updates the image of 6 replicas 2 at a time, stop-first: never fewer than 4 running", async () => {
    const before = await createService("stopfirst", 6, "--update-parallelism", "2", "--update-monitor", MONITOR, TEST_IMAGE, ...SLEEPER);
    const samples = await sampleDuring(mgr, "stopfirst", () => mgr.ok("service", "update", "--image", NEXT_IMAGE, "stopfirst"));
    await untilUpdateState("stopfirst", UpdateState.UPDATE_STATE_COMPLETED);

    const counts = countsOverTime(samples);
    // Never more than 2 down at once, and the update did take 2 at a time.
    expect(Math.min(...samples.map((s) => running(s.tasks).length)), counts).toBe(4);
    // Stop-first: a slot's old task is stopped before its new one is wanted.
    expect(Math.max(...samples.map((s) => wanted(s.tasks).length)), counts).toBe(6);
    const after = await runningOnCurrentSpec("stopfirst", 6);
    expect(after.map((t) => containerOf(t).image)).toEqual(Array(6).fill(NEXT_IMAGE));
    expect(after.filter((t) => before.some((b) => b.id === t.id))).toEqual([]);
    for (const t of after) expect((await containerOfTask(hostOf(t), t.id)).Config.Image).toBe(NEXT_IMAGE);
    await removeService("stopfirst");
  }, 120_000);

  it("updates the image of 6 replicas 2 at a time, start-first: never fewer than 6 running", async () => {
    const before = await createService(
      "startfirst", 6, "--update-parallelism", "2", "--update-order", "start-first", "--update-monitor", MONITOR, TEST_IMAGE, ...SLEEPER,
    );
    const samples = await sampleDuring(mgr, "startfirst", () => mgr.ok("service", "update", "--image", NEXT_IMAGE, "startfirst"));
    await untilUpdateState("startfirst", UpdateState.UPDATE_STATE_COMPLETED);

    const counts = countsOverTime(samples);
    expect(Math.min(...samples.map((s) => running(s.tasks).length)), counts).toBe(6);
    // Start-first, 2 at a time: two new tasks beside the 6 old ones, never more.
    expect(Math.max(...samples.map((s) => wanted(s.tasks).length)), counts).toBe(8);
    const after = await runningOnCurrentSpec("startfirst", 6);
    expect(after.map((t) => containerOf(t).image)).toEqual(Array(6).fill(NEXT_IMAGE));
    expect(after.filter((t) => before.some((b) => b.id === t.id))).toEqual([]);
    await removeService("startfirst");
  }, 120_000);

  it("applies --env-add to every task: each new container has the variable", async () => {
    await createService("env", 6, "--update-parallelism", "3", "--update-monitor", MONITOR, TEST_IMAGE, ...SLEEPER);
    await mgr.ok("service", "update", "--env-add", "FOO=bar", "env");
    await untilUpdateState("env", UpdateState.UPDATE_STATE_COMPLETED);

    const after = await runningOnCurrentSpec("env", 6);
    for (const t of after) {
      expect(containerOf(t).env).toEqual(["FOO=bar"]);
      const ct = await containerOfTask(hostOf(t), t.id);
      expect(ct.State.Running).toBe(true);
      expect(ct.Config.Env).toContain("FOO=bar");
    }
    await removeService("env");
  }, 120_000);

  it("pauses an update whose new tasks fail (--update-failure-action pause), keeping the old tasks running", async () => {
    // The new tasks never run (the image's health check always fails), so each holds its
    // parallelism unit until it fails: exactly the first 2 slots are tried.
    await createService(
      "paused", 6, "--update-parallelism", "2", "--update-failure-action", "pause", "--update-monitor", MONITOR, TEST_IMAGE, ...SLEEPER,
    );
    const r = await mgr.swarm("service", "update", "--image", UNHEALTHY_TEST_IMAGE, "paused");
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    const reason = /service update paused: (update paused due to failure or early termination of task (\w+): failed: .*dockerexec: unhealthy container)$/m.exec(r.stderr);
    expect(reason, r.stderr).not.toBeNull();
    const [, message, failedId] = reason!;

    const view = await inspect("paused");
    expect(view.UpdateStatus).toMatchObject({ State: "paused", Message: message });
    const tasks = await tasksOf(mgr, "paused");
    const failed = tasks.find((t) => t.id === failedId);
    expect(failed?.status?.state, describeTasks(tasks)).toBe(TaskState.TASK_STATE_FAILED);
    expect(containerOf(failed!).image).toBe(UNHEALTHY_TEST_IMAGE);
    // Only the first batch was tried; the other 4 slots still run the old spec.
    const svc = await getService(mgr, "paused");
    expect(new Set(tasks.filter((t) => t.specVersion?.index === svc.specVersion?.index).map((t) => t.slot)).size, describeTasks(tasks)).toBe(2);
    expect(running(tasks).map((t) => containerOf(t).image), describeTasks(tasks)).toEqual(Array(4).fill(TEST_IMAGE));
    await removeService("paused");
  }, 120_000);

  it("rolls back an update whose new tasks fail (--update-failure-action rollback), and the CLI says so", async () => {
    await createService(
      "autoroll", 4,
      "--update-parallelism", "2", "--update-failure-action", "rollback", "--update-monitor", MONITOR,
      "--rollback-parallelism", "0", "--rollback-monitor", MONITOR,
      TEST_IMAGE, ...SLEEPER,
    );
    const r = await mgr.swarm("service", "update", "--args", FAILING_ARGS, "autoroll");
    // Unlike docker, an update that was rolled back fails the command.
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/service update rolled back: update rolled back due to failure or early termination of task \w+: failed: task: non-zero exit \(1\)/);

    await untilUpdateState("autoroll", UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED);
    const view = await inspect("autoroll");
    expect(view.UpdateStatus).toMatchObject({ State: "rollback_completed", Message: "rollback completed" });
    expect(view.Spec.TaskTemplate.ContainerSpec.Args).toEqual(SLEEPER);
    expect(view.PreviousSpec?.TaskTemplate.ContainerSpec.Args).toEqual(["sh", "-c", "exit 1"]);
    const after = await untilTasks("autoroll", "4 running the previous spec", (tasks) => {
      expect(running(tasks).map((t) => containerOf(t).args)).toEqual(Array(4).fill(SLEEPER));
    });
    expect(new Set(running(after).map((t) => t.slot))).toEqual(new Set([1, 2, 3, 4]));
    await removeService("autoroll");
  }, 120_000);

  it("rolls back by hand with `service rollback` and with `service update --rollback`", async () => {
    await createService(
      "manual", 2,
      "--update-parallelism", "0", "--update-monitor", MONITOR, "--rollback-parallelism", "0", "--rollback-monitor", MONITOR,
      TEST_IMAGE, ...SLEEPER,
    );
    await mgr.ok("service", "update", "--image", NEXT_IMAGE, "manual");
    await untilUpdateState("manual", UpdateState.UPDATE_STATE_COMPLETED);
    expect((await runningOnCurrentSpec("manual", 2)).map((t) => containerOf(t).image)).toEqual([NEXT_IMAGE, NEXT_IMAGE]);

    await mgr.ok("service", "rollback", "manual");
    await untilUpdateState("manual", UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED);
    let view = await inspect("manual");
    expect(view.UpdateStatus).toMatchObject({ State: "rollback_completed", Message: "rollback completed" });
    expect(view.Spec.TaskTemplate.ContainerSpec.Image).toBe(TEST_IMAGE);
    expect(view.PreviousSpec?.TaskTemplate.ContainerSpec.Image).toBe(NEXT_IMAGE);
    expect((await runningOnCurrentSpec("manual", 2)).map((t) => containerOf(t).image)).toEqual([TEST_IMAGE, TEST_IMAGE]);

    await mgr.ok("service", "update", "--env-add", "STEP=3", "manual");
    await untilUpdateState("manual", UpdateState.UPDATE_STATE_COMPLETED);
    expect((await runningOnCurrentSpec("manual", 2)).map((t) => containerOf(t).env)).toEqual([["STEP=3"], ["STEP=3"]]);

    await mgr.ok("service", "update", "--rollback", "manual");
    await untilUpdateState("manual", UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED);
    view = await inspect("manual");
    expect(view.UpdateStatus).toMatchObject({ State: "rollback_completed", Message: "rollback completed" });
    expect(view.Spec.TaskTemplate.ContainerSpec.Image).toBe(TEST_IMAGE);
    expect(view.Spec.TaskTemplate.ContainerSpec.Env).toBeUndefined();
    expect(view.PreviousSpec?.TaskTemplate.ContainerSpec.Env).toEqual(["STEP=3"]);
    const after = await runningOnCurrentSpec("manual", 2);
    for (const t of after) expect((await containerOfTask(hostOf(t), t.id)).Config.Env ?? []).not.toContain("STEP=3");
    await removeService("manual");
  }, 120_000);

  it("replaces every task with --force, on the same spec", async () => {
    const before = await createService("forced", 4, "--update-parallelism", "2", "--update-monitor", MONITOR, TEST_IMAGE, ...SLEEPER);
    await mgr.ok("service", "update", "--force", "forced");
    await untilUpdateState("forced", UpdateState.UPDATE_STATE_COMPLETED);

    expect((await inspect("forced")).Spec.TaskTemplate.ForceUpdate).toBe(1);
    const after = await runningOnCurrentSpec("forced", 4);
    expect(after.filter((t) => before.some((b) => b.id === t.id))).toEqual([]);
    for (const t of after) expect(containerOf(t)).toEqual(containerOf(before[0]!));
    expect(new Set(after.map((t) => t.slot))).toEqual(new Set(before.map((t) => t.slot)));
    await removeService("forced");
  }, 120_000);

  it("replaces a task whose container becomes unhealthy", async () => {
    const [first] = await createService(
      "health", 1,
      "--health-cmd", "test ! -f /tmp/bad", "--health-interval", "500ms", "--health-timeout", "2s", "--health-retries", "1",
      "--restart-delay", "200ms",
      TEST_IMAGE, ...SLEEPER,
    );
    // RUNNING only once healthy.
    const ct = await containerOfTask(hostOf(first!), first!.id);
    expect(ct.State.Health?.Status).toBe("healthy");

    expect(await execInContainer(hostOf(first!), ct.Id, ["touch", "/tmp/bad"])).toBe(0);
    const tasks = await untilTasks("health", "the unhealthy task failed and another one runs in its slot", (tasks) => {
      const old = tasks.find((t) => t.id === first!.id);
      expect(old?.status?.state).toBe(TaskState.TASK_STATE_FAILED);
      expect(running(tasks)).toHaveLength(1);
      expect(running(tasks)[0]!.id).not.toBe(first!.id);
    });
    expect(tasks.find((t) => t.id === first!.id)!.status!.err).toContain("dockerexec: unhealthy container");
    const [replacement] = running(tasks);
    expect(replacement!.slot).toBe(first!.slot);
    expect((await containerOfTask(hostOf(replacement!), replacement!.id)).State.Health?.Status).toBe("healthy");
    await removeService("health");
  }, 120_000);

  it("finishes an update under the new leader after kill -9 of the leader mid-update", async () => {
    // The agents know all 3 managers, to reconnect to whichever leads next.
    for (const w of c.hosts.slice(3)) {
      await waitFor(async () => (await w.info()).remoteManagers.length === 3 || undefined, { timeoutMs: 20_000, what: `${w.host.name} to know 3 managers` }).catch(c.withLogs);
    }
    const leader = await waitFor(() => leaderHost(managers[1]!), { timeoutMs: 10_000, what: "a leader" }).catch(c.withLogs);
    mgr = leader;
    await createService(
      "failover", 6, "--update-parallelism", "1", "--update-delay", "2s", "--update-monitor", MONITOR, TEST_IMAGE, ...SLEEPER,
    );
    await mgr.ok("service", "update", "-d", "--image", NEXT_IMAGE, "failover");
    const onNext = (tasks: Task[]): Task[] => running(tasks).filter((t) => containerOf(t).image === NEXT_IMAGE);
    const replaced = onNext(
      await untilTasks("failover", "one slot replaced, the others not yet", (tasks) => {
        expect(onNext(tasks).length).toBeGreaterThanOrEqual(1);
        expect(running(tasks).filter((t) => containerOf(t).image === TEST_IMAGE).length).toBeGreaterThanOrEqual(1);
      }),
    );

    await leader.kill9();
    const survivors = managers.filter((m) => m !== leader);
    mgr = await waitFor(
      async () => {
        const l = await leaderHost(survivors[0]!);
        return l && l !== leader ? l : undefined;
      },
      { timeoutMs: 20_000, what: "a new leader among the surviving managers" },
    ).catch(c.withLogs);

    await untilUpdateState("failover", UpdateState.UPDATE_STATE_COMPLETED);
    const after = await runningOnCurrentSpec("failover", 6);
    expect(after.map((t) => containerOf(t).image)).toEqual(Array(6).fill(NEXT_IMAGE));
    // The new leader went on where the update was: the slots replaced before the kill kept their tasks.
    for (const t of replaced) expect(after.map((a) => a.id)).toContain(t.id);
    await removeService("failover");
  }, 120_000);
});
