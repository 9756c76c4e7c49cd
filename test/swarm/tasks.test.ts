// Tasks as real containers on real test hosts: swarmd processes in their own network namespaces,
// each worker with its own Docker engine. The agents are tested apart from the orchestrators and the
// scheduler: tasks are put straight into the store with the test-only TestHooks.PutTask (`swarmd
// --test-hooks`) on the leader's local socket, already ASSIGNED to a node; what the agents report is
// read back with the Control API over a manager's local socket and checked against the engines.
// The task reaper deletes the ended tasks of services that do not exist, so a task whose end is
// awaited belongs to no service.
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlClient } from "../../proto/gen/control.js";
import { Task } from "../../proto/gen/objects.js";
import { TestHooksClient } from "../../proto/gen/test_hooks.js";
import { TaskState } from "../../proto/gen/types.js";
import { TEST_IMAGE, engineRequest } from "../hosts/docker-engine.js";
import { waitFor } from "../hosts/poll.js";
import { SwarmHosts, type SwarmdHost } from "./swarm-hosts.js";

// h1 manager; h2, h3 workers with their own engines; h4, h5 join as managers for the failover case.
let c: SwarmHosts;
let h: SwarmdHost[];
let m1: SwarmdHost;
let w1: SwarmdHost;
let w2: SwarmdHost;
const nodeIdOf = new Map<SwarmdHost, string>();

/** Sleeps forever in the background and exits 0 on SIGTERM at once. */
const SLEEPER = ["sh", "-c", 'trap "exit 0" TERM; sleep 100000 & wait'];

beforeAll(async () => {
  c = await SwarmHosts.create(5, { engines: [1, 2], testHooks: true });
  h = c.hosts;
  [m1, w1, w2] = [h[0]!, h[1]!, h[2]!];
  await m1.ok("init");
  // A short heartbeat period (before any agent beats with the default 5 s) so that a stopped agent's
  // node goes DOWN in about 3 s.
  await m1.ok("update", "--dispatcher-heartbeat", "1s");
  const workerToken = (await m1.ok("join-token", "-q", "worker")).trim();
  for (const w of [w1, w2]) await w.ok("join", "--token", workerToken, m1.addr);
  await c.untilNodes(m1, "3 ready nodes", (nodes) => {
    expect(nodes.map((n) => `${n.Hostname}:${n.Status}`).sort()).toEqual(["h1:Ready", "h2:Ready", "h3:Ready"]);
  });
  for (const x of [m1, w1, w2]) nodeIdOf.set(x, (await x.info()).nodeId);
}, 120_000);

afterAll(async () => {
  await c?.destroy();
}, 60_000);

// ---------- helpers ----------

function unary<Res>(invoke: (md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => invoke(new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))));
}

/** Puts `task` into the store through `on`'s TestHooks (`on` must lead). */
async function putTask(on: SwarmdHost, task: Task): Promise<Task> {
  const client = new TestHooksClient(`unix://${on.socket}`, grpc.credentials.createInsecure());
  try {
    return await unary<Task>((md, o, cb) => client.putTask(task, md, o, cb));
  } finally {
    client.close();
  }
}

/** The task as the store on `on` has it. */
async function getTask(on: SwarmdHost, id: string): Promise<Task> {
  const client = new ControlClient(`unix://${on.socket}`, grpc.credentials.createInsecure());
  try {
    return (await unary<{ task?: Task }>((md, o, cb) => client.getTask({ taskId: id }, md, o, cb))).task!;
  } finally {
    client.close();
  }
}

/** Waits until the task's observed state is `state` (as read from `on`) and returns it. */
async function untilState(on: SwarmdHost, id: string, state: TaskState, timeoutMs = 30_000): Promise<Task> {
  return waitFor(
    async () => {
      const t = await getTask(on, id);
      if (t.status?.state === state) return t;
      const seen = `${TaskState[t.status?.state ?? 0]} (message "${t.status?.message ?? ""}", err "${t.status?.err ?? ""}")`;
      throw new Error((t.status?.state ?? 0) > state ? `it went past it: ${seen}` : `it is still ${seen}`);
    },
    { timeoutMs, what: `task ${id} to be ${TaskState[state]}` },
  ).catch(c.withLogs);
}

let seq = 0;
/** A fresh task id: 25 chars of [0-9a-z], like the store's. */
function taskId(): string {
  seq++;
  return `t${process.pid.toString(36)}${Date.now().toString(36)}${seq.toString(36)}`.padEnd(25, "0").slice(0, 25);
}

/** A task ASSIGNED to `node`'s node, named for service `service` (of id `svc-<service>`, none if `serviceless`), slot `slot`. */
function task(node: SwarmdHost, service: string, slot: number, command: string[], opts: { serviceless?: boolean } = {}): Task {
  return Task.fromPartial({
    id: taskId(),
    serviceId: opts.serviceless ? "" : `svc-${service}`,
    slot,
    nodeId: nodeIdOf.get(node)!,
    serviceAnnotations: { name: service, labels: {} },
    spec: { runtime: { $case: "container", container: { image: TEST_IMAGE, command } } },
    status: { state: TaskState.TASK_STATE_ASSIGNED, message: "assigned by the test", timestampUnixMs: Date.now() },
    desiredState: TaskState.TASK_STATE_RUNNING,
  });
}

interface ContainerInfo {
  Id: string;
  Name: string;
  Config: { Labels: Record<string, string> };
  State: { Running: boolean; StartedAt: string; ExitCode: number; Status: string };
}

/** The containers of task `id` on `on`'s engine, inspected. */
async function containersOfTask(on: SwarmdHost, id: string): Promise<ContainerInfo[]> {
  const socket = on.engine!.socketPath;
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.task.id=${id}`] }));
  const list = await engineRequest(socket, "GET", `/containers/json?all=1&filters=${filters}`);
  if (list.status !== 200) throw new Error(`list containers on ${on.host.name}: HTTP ${list.status} ${list.body.toString()}`);
  const out: ContainerInfo[] = [];
  for (const { Id } of JSON.parse(list.body.toString()) as { Id: string }[]) {
    const r = await engineRequest(socket, "GET", `/containers/${Id}/json`);
    if (r.status !== 200) throw new Error(`inspect ${Id} on ${on.host.name}: HTTP ${r.status} ${r.body.toString()}`);
    out.push(JSON.parse(r.body.toString()) as ContainerInfo);
  }
  return out;
}

/** The one container of task `id` on `on`'s engine. */
async function containerOf(on: SwarmdHost, id: string): Promise<ContainerInfo> {
  const cs = await containersOfTask(on, id);
  if (cs.length !== 1) throw new Error(`expected one container of task ${id} on ${on.host.name}, found ${cs.length}`);
  return cs[0]!;
}

/** The host whose manager `on` believes leads (undefined while there is no leader). */
async function leaderHost(on: SwarmdHost): Promise<SwarmdHost | undefined> {
  const raft = (await on.info()).raft;
  const lead = raft?.members.find((m) => m.leader);
  return lead ? h.find((x) => lead.addr === x.addr) : undefined;
}

// ---------- scenarios ----------

describe("tasks as real containers", () => {
  /** Tasks the later scenarios look at again. */
  let onW2 = "";
  let w2Container: ContainerInfo;

  it("runs a task assigned to each worker as a container on that worker's engine, reported RUNNING", async () => {
    const t1 = await putTask(m1, task(w1, "web", 1, SLEEPER));
    const t2 = await putTask(m1, task(w2, "web", 2, SLEEPER));
    onW2 = t2.id;
    for (const [w, t, slot] of [[w1, t1, 1], [w2, t2, 2]] as const) {
      const running = await untilState(m1, t.id, TaskState.TASK_STATE_RUNNING);
      const ct = await containerOf(w, t.id);
      expect(ct.Name).toBe(`/web.${slot}.${t.id}`);
      expect(ct.State.Running).toBe(true);
      expect(ct.Config.Labels).toMatchObject({
        "com.docker.swarm.node.id": nodeIdOf.get(w),
        "com.docker.swarm.service.id": "svc-web",
        "com.docker.swarm.service.name": "web",
        "com.docker.swarm.task.id": t.id,
        "com.docker.swarm.task.name": `web.${slot}.${t.id}`,
      });
      expect(running.status?.container?.containerId).toBe(ct.Id);
      expect(running.status?.appliedBy).toBe(nodeIdOf.get(m1));
    }
    // Each worker runs only its own task.
    expect(await containersOfTask(w1, t2.id)).toHaveLength(0);
    expect(await containersOfTask(w2, t1.id)).toHaveLength(0);
    w2Container = await containerOf(w2, t2.id);
  });

  it("reports a container that exits 1 as FAILED with exit code 1", async () => {
    const t = await putTask(m1, task(w1, "fails", 1, ["sh", "-c", "exit 1"], { serviceless: true }));
    const failed = await untilState(m1, t.id, TaskState.TASK_STATE_FAILED);
    expect(failed.status?.container?.exitCode).toBe(1);
    expect(failed.status?.err).toMatch(/exit code 1/);
    const ct = await containerOf(w1, t.id);
    expect(ct.State).toMatchObject({ Running: false, ExitCode: 1 });
  });

  it("stops the container with SIGTERM when the desired state becomes SHUTDOWN", async () => {
    const t = await putTask(m1, task(w1, "stops", 1, SLEEPER, { serviceless: true }));
    const running = await untilState(m1, t.id, TaskState.TASK_STATE_RUNNING);
    await putTask(m1, { ...running, desiredState: TaskState.TASK_STATE_SHUTDOWN });
    const down = await untilState(m1, t.id, TaskState.TASK_STATE_SHUTDOWN);
    // The workload exits 0 at SIGTERM; a SIGKILL after the grace period would make it 137.
    expect(down.status?.container?.exitCode).toBe(0);
    const ct = await containerOf(w1, t.id);
    expect(ct.State).toMatchObject({ Running: false, ExitCode: 0 });
  });

  it("keeps the containers of an agent killed with -9 and restarted: not restarted, still RUNNING", async () => {
    await w2.kill9();
    await w2.start();
    // The restarted agent reconnects (a new session) and its worker works: a new task runs.
    const probe = await putTask(m1, task(w2, "probe", 1, SLEEPER));
    await untilState(m1, probe.id, TaskState.TASK_STATE_RUNNING);
    const ct = await containerOf(w2, onW2);
    expect(ct.Id).toBe(w2Container.Id);
    expect(ct.State.Running).toBe(true);
    expect(ct.State.StartedAt).toBe(w2Container.State.StartedAt);
    const t = await getTask(m1, onW2);
    expect(t.status?.state).toBe(TaskState.TASK_STATE_RUNNING);
    expect(t.status?.container?.containerId).toBe(w2Container.Id);
  });

  it("marks the node of an agent stopped for longer than the heartbeat grace DOWN", async () => {
    await w1.stop();
    const stopped = Date.now();
    await c.untilNodes(m1, "h2 to be Down", (nodes) => expect(nodes.find((n) => n.Hostname === "h2")?.Status).toBe("Down"));
    // 3 periods of 1 s ±10 % (set in beforeAll), swept at most 4 times a period.
    expect(Date.now() - stopped).toBeLessThan(6_000);
    await w1.start();
    await c.untilNodes(m1, "h2 to be Ready again", (nodes) => expect(nodes.find((n) => n.Hostname === "h2")?.Status).toBe("Ready"));
  });

  it("with 3 managers, after kill -9 of the leader the agents follow the new leader and nothing restarts", async () => {
    const [m2, m3] = [h[3]!, h[4]!];
    const managerToken = (await m1.ok("join-token", "-q", "manager")).trim();
    for (const m of [m2, m3]) await m.ok("join", "--token", managerToken, m1.addr);
    await c.untilNodes(m1, "5 ready nodes, 3 managers", (nodes) => {
      expect(nodes.every((n) => n.Status === "Ready")).toBe(true);
      expect(nodes.filter((n) => n.ManagerStatus !== "")).toHaveLength(3);
    });
    // The agents get the new managers in their sessions (they persist them to reconnect with).
    for (const w of [w1, w2]) {
      await waitFor(async () => (await w.info()).remoteManagers.length === 3 || undefined, { timeoutMs: 20_000, what: `${w.host.name} to know 3 managers` }).catch(c.withLogs);
    }
    expect(await leaderHost(m2)).toBe(m1);
    const running = await containerOf(w2, onW2);
    expect(running.Id).toBe(w2Container.Id);

    const sessionsBefore = new Map([w1, w2].map((w) => [w, w.proc!.lines().filter((l) => l.includes("agent session established")).length]));
    const killed = Date.now();
    await m1.kill9();
    const leader = await waitFor(async () => {
      const l = await leaderHost(m2);
      return l && l !== m1 ? l : undefined;
    }, { timeoutMs: 20_000, what: "a new leader among h4 and h5" }).catch(c.withLogs);
    // Each agent opens a new session with the new leader within seconds.
    for (const w of [w1, w2]) {
      await waitFor(
        () => {
          const lines = w.proc!.lines().filter((l) => l.includes("agent session established"));
          return lines.slice(sessionsBefore.get(w)).some((l) => l.includes(leader.host.address)) || undefined;
        },
        { timeoutMs: 15_000, what: `${w.host.name}'s agent to open a session with the new leader ${leader.host.name}` },
      ).catch(c.withLogs);
    }
    expect(Date.now() - killed).toBeLessThan(15_000);
    await c.untilNodes(leader, "the workers Ready from the new leader", (nodes) => {
      for (const n of ["h2", "h3"]) expect(nodes.find((x) => x.Hostname === n)?.Status).toBe("Ready");
    });
    // TestHooks is served by the leader only.
    const follower = [m2, m3].find((m) => m !== leader)!;
    await expect(putTask(follower, task(w1, "refused", 1, SLEEPER))).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    // Statuses flow through the new leader.
    const after = await putTask(leader, task(w1, "after", 1, SLEEPER));
    await untilState(leader, after.id, TaskState.TASK_STATE_RUNNING);
    expect(await containerOf(w1, after.id)).toMatchObject({ State: { Running: true } });
    // Nothing restarted.
    const ct = await containerOf(w2, onW2);
    expect(ct.Id).toBe(w2Container.Id);
    expect(ct.State.StartedAt).toBe(w2Container.State.StartedAt);
    expect((await getTask(leader, onW2)).status?.state).toBe(TaskState.TASK_STATE_RUNNING);
  });
});
