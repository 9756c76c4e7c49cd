// Services on real test hosts: swarmd processes in their own network namespaces, workers with their
// own Docker engines, driven with the real `swarm` CLI. The orchestrators create tasks, the allocator
// and scheduler place them, the agents run them as containers; the store is read back through the
// Control API and checked against what each scenario promises.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { TEST_IMAGE, engineRequest } from "../hosts/docker-engine.js";
import { waitFor } from "../hosts/poll.js";
import { running, tasksOf } from "./cluster-api.js";
import { SwarmHosts, type SwarmdHost } from "./swarm-hosts.js";

// h1 manager (drained: it has no engine of its own); h2, h3 workers; h4 a worker that joins later.
let c: SwarmHosts;
let m1: SwarmdHost;
let w1: SwarmdHost;
let w2: SwarmdHost;
let w3: SwarmdHost;
let workerToken = "";
const nodeIdOf = new Map<SwarmdHost, string>();

/** Sleeps and exits 0 on SIGTERM at once. */
const SLEEPER = ["sh", "-c", 'trap "exit 0" TERM; sleep 100000 & wait'];

beforeAll(async () => {
  c = await SwarmHosts.create(4, { engines: [1, 2, 3] });
  [m1, w1, w2, w3] = c.hosts as [SwarmdHost, SwarmdHost, SwarmdHost, SwarmdHost];
  await m1.ok("init");
  // Nodes that stop heartbeating are DOWN after 3 periods: about 3 s.
  await m1.ok("update", "--dispatcher-heartbeat", "1s");
  workerToken = (await m1.ok("join-token", "-q", "worker")).trim();
  for (const w of [w1, w2]) await w.ok("join", "--token", workerToken, m1.addr);
  await m1.ok("node", "update", "--availability", "drain", "h1");
  await c.untilNodes(m1, "3 ready nodes", (nodes) => {
    expect(nodes.map((n) => `${n.Hostname}:${n.Status}`).sort()).toEqual(["h1:Ready", "h2:Ready", "h3:Ready"]);
  });
  for (const x of [m1, w1, w2]) nodeIdOf.set(x, (await x.info()).nodeId);
}, 120_000);

afterAll(async () => {
  await c?.destroy();
}, 60_000);

/** Waits until `check` accepts the service's tasks (it throws to say why not yet); returns them. */
function untilTasks(service: string, what: string, check: (tasks: Task[]) => void, timeoutMs?: number): Promise<Task[]> {
  return c.untilTasks(m1, service, what, check, timeoutMs);
}

/** Start and finish times of the containers of `service` on `h`'s engine (none when it has no engine running). */
async function containersOfService(h: SwarmdHost, service: string): Promise<{ startedAt: number; finishedAt: number }[]> {
  if (!h.engine || !h.proc) return [];
  const socket = h.engine.socketPath;
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.service.name=${service}`] }));
  const list = await engineRequest(socket, "GET", `/containers/json?all=1&filters=${filters}`);
  const out: { startedAt: number; finishedAt: number }[] = [];
  for (const { Id } of JSON.parse(list.body.toString()) as { Id: string }[]) {
    const r = JSON.parse((await engineRequest(socket, "GET", `/containers/${Id}/json`)).body.toString()) as { State: { StartedAt: string; FinishedAt: string } };
    out.push({ startedAt: Date.parse(r.State.StartedAt), finishedAt: Date.parse(r.State.FinishedAt) });
  }
  return out;
}

const runningOn = (tasks: Task[], h: SwarmdHost): number => running(tasks).filter((t) => t.nodeId === nodeIdOf.get(h)).length;

async function createService(...args: string[]): Promise<void> {
  await m1.ok("service", "create", "-d", ...args);
}

async function removeService(name: string): Promise<void> {
  await m1.ok("service", "rm", name);
  await waitFor(async () => (await tasksOf(m1, name).catch(() => [])).length === 0 || undefined, {
    timeoutMs: 30_000,
    what: `the tasks of ${name} to be removed`,
  }).catch(c.withLogs);
}

describe("services on real hosts", () => {
  it("spreads 6 replicas over 2 workers 3/3", async () => {
    await createService("--name", "spread", "--replicas", "6", TEST_IMAGE, ...SLEEPER);
    await untilTasks("spread", "6 running, 3 per worker", (tasks) => {
      expect(running(tasks)).toHaveLength(6);
      expect([runningOn(tasks, w1), runningOn(tasks, w2)]).toEqual([3, 3]);
    });
    await removeService("spread");
  }, 120_000);

  it("keeps a service constrained to one node there", async () => {
    await createService("--name", "pinned", "--replicas", "3", "--constraint", "node.hostname==h3", TEST_IMAGE, ...SLEEPER);
    await untilTasks("pinned", "3 running on h3", (tasks) => {
      expect(running(tasks)).toHaveLength(3);
      expect(runningOn(tasks, w2)).toBe(3);
    });
    await removeService("pinned");
  }, 120_000);

  it("scales to 10 and back to 2", async () => {
    await createService("--name", "scaled", "--replicas", "2", TEST_IMAGE, ...SLEEPER);
    await untilTasks("scaled", "2 running", (tasks) => expect(running(tasks)).toHaveLength(2));
    await m1.ok("service", "scale", "-d", "scaled=10");
    await untilTasks("scaled", "10 running in slots 1..10", (tasks) => {
      expect(running(tasks).map((t) => t.slot).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });
    await m1.ok("service", "scale", "-d", "scaled=2");
    await untilTasks("scaled", "2 running, the others removed", (tasks) => {
      expect(running(tasks)).toHaveLength(2);
      expect(tasks.filter((t) => t.desiredState <= TaskState.TASK_STATE_RUNNING)).toHaveLength(2);
    });
    await removeService("scaled");
  }, 120_000);


  it("without --detach, create and scale up and down each return once the service converged", async () => {
    const created = await m1.ok("service", "create", "--name", "waited", "--replicas", "6", "--update-monitor", "1s", TEST_IMAGE, ...SLEEPER);
    expect(created).toMatch(/overall progress: 6 out of 6 tasks/);
    expect(created).toMatch(/verify: Service converged/);
    for (const [replicas, want] of [[2, 2], [3, 3], [5, 5]] as const) {
      const out = await m1.ok("service", "scale", `waited=${replicas}`);
      expect(out).toMatch(new RegExp(`overall progress: ${want} out of ${want} tasks`));
      expect(out).toMatch(/verify: Service converged/);
      const tasks = await tasksOf(m1, "waited");
      expect(running(tasks).filter((t) => t.desiredState === TaskState.TASK_STATE_RUNNING)).toHaveLength(want);
    }
    await removeService("waited");
  }, 120_000);
  it("runs a global service on every active node, following a node that joins", async () => {
    await createService("--name", "everywhere", "--mode", "global", TEST_IMAGE, ...SLEEPER);
    await untilTasks("everywhere", "one task on each worker (the drained manager has none)", (tasks) => {
      expect(running(tasks)).toHaveLength(2);
      expect([runningOn(tasks, w1), runningOn(tasks, w2)]).toEqual([1, 1]);
    });
    await w3.ok("join", "--token", workerToken, m1.addr);
    nodeIdOf.set(w3, (await w3.info()).nodeId);
    await untilTasks("everywhere", "a task on the new node too", (tasks) => {
      expect(running(tasks)).toHaveLength(3);
      expect(runningOn(tasks, w3)).toBe(1);
    });
    await removeService("everywhere");
  }, 120_000);

  it("moves the tasks of a drained worker to the others", async () => {
    await createService("--name", "drained", "--replicas", "4", TEST_IMAGE, ...SLEEPER);
    await untilTasks("drained", "4 running", (tasks) => expect(running(tasks)).toHaveLength(4));
    await m1.ok("node", "update", "--availability", "drain", "h2");
    const tasks = await untilTasks("drained", "4 running, none on h2", (tasks) => {
      expect(running(tasks)).toHaveLength(4);
      expect(runningOn(tasks, w1)).toBe(0);
    });
    // The drained node's old tasks were shut down, not left running.
    expect(tasks.filter((t) => t.nodeId === nodeIdOf.get(w1) && t.status!.state <= TaskState.TASK_STATE_RUNNING)).toEqual([]);
    await m1.ok("node", "update", "--availability", "active", "h2");
    await removeService("drained");
  }, 120_000);

  it("stops restarting a failing task after --restart-max-attempts", async () => {
    await createService(
      "--name", "flaky", "--restart-condition", "on-failure", "--restart-max-attempts", "2", "--restart-delay", "200ms",
      TEST_IMAGE, "sh", "-c", "exit 3",
    );
    const tasks = await untilTasks("flaky", "3 failed runs (the first and 2 restarts) and no more wanted", (tasks) => {
      expect(tasks.filter((t) => t.status?.state === TaskState.TASK_STATE_FAILED)).toHaveLength(3);
      expect(tasks.filter((t) => t.desiredState <= TaskState.TASK_STATE_RUNNING)).toEqual([]);
    });
    expect(new Set(tasks.map((t) => t.slot))).toEqual(new Set([1]));
    expect(tasks[0]!.status!.err).toContain("exit code 3");
    await removeService("flaky");
  }, 120_000);

  it("runs a job to 5 completions, at most 2 at a time", async () => {
    await createService(
      "--name", "batch", "--mode", "replicated-job", "--total-completions", "5", "--max-concurrent", "2",
      TEST_IMAGE, "sh", "-c", "sleep 0.3",
    );
    const tasks = await untilTasks("batch", "5 completed", (tasks) => {
      expect(tasks.filter((t) => t.status?.state === TaskState.TASK_STATE_COMPLETE)).toHaveLength(5);
    });
    expect(tasks).toHaveLength(5);
    // At most 2 ran at once, by the engines' own start and finish times of the 5 containers.
    const runs = (await Promise.all([w1, w2, w3].map((h) => containersOfService(h, "batch")))).flat();
    expect(runs).toHaveLength(5);
    const edges = runs.flatMap((r) => [{ at: r.startedAt, d: 1 }, { at: r.finishedAt, d: -1 }]).sort((a, b) => a.at - b.at || a.d - b.d);
    let now = 0;
    let most = 0;
    for (const e of edges) most = Math.max(most, (now += e.d));
    expect(most).toBeLessThanOrEqual(2);
    await removeService("batch");
  }, 120_000);

  it("leaves impossible reservations PENDING with the reason", async () => {
    await createService("--name", "huge", "--reserve-memory", "1000G", TEST_IMAGE, ...SLEEPER);
    const [t] = await untilTasks("huge", "pending with a reason", (tasks) => {
      expect(tasks).toHaveLength(1);
      expect(tasks[0]!.status?.state).toBe(TaskState.TASK_STATE_PENDING);
      expect(tasks[0]!.status?.err).toMatch(/^no suitable node \(/);
    });
    expect(t!.status!.err).toBe("no suitable node (insufficient memory on 3 nodes; 1 node not available for new tasks)");
    const ps = await m1.ok("service", "ps", "--no-trunc", "huge");
    expect(ps).toContain("no suitable node (insufficient memory on 3 nodes");
    await removeService("huge");
  }, 120_000);

  it("replaces the tasks of a worker host that dies on the survivors", async () => {
    await createService("--name", "survive", "--replicas", "4", TEST_IMAGE, ...SLEEPER);
    await untilTasks("survive", "4 running on h2..h4", (tasks) => expect(running(tasks)).toHaveLength(4));
    // The host dies: its swarmd and its containers are killed.
    await w3.kill9();
    await w3.engine!.stop();
    await untilTasks("survive", "4 running, none on the dead host", (tasks) => {
      expect(running(tasks)).toHaveLength(4);
      expect(runningOn(tasks, w3)).toBe(0);
    });
  }, 120_000);
});
