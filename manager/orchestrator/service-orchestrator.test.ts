import { afterEach, describe, expect, it } from "vitest";
import type { Node, Service, Task } from "../../proto/gen/objects.js";
import { NodeAvailability, NodeState, TaskState as S, UpdateState } from "../../proto/gen/types.js";
import type { MemoryStore } from "../store/index.js";
import { OLD_TASK_TIMEOUT_MS } from "./decisions/gate.js";
import { globalMode, jobMode, replicatedMode } from "./modes.js";
import { ServiceOrchestrator, type OrchestratorMode } from "./service-orchestrator.js";
import {
  FakeClock,
  change,
  global,
  liveTasks,
  makeNode,
  makeService,
  newStore,
  put,
  quiesce,
  replicated,
  replicatedJob,
  report,
  sequentialIds,
  taskOf,
  tasksOf,
  until,
  type ServiceFixture,
} from "./test-support.js";

let running: ServiceOrchestrator[] = [];
afterEach(async () => {
  for (const o of running) await o.stop();
  running = [];
});

function setup(mode: OrchestratorMode, nodes: string[] = ["n1", "n2", "n3"]) {
  const clock = new FakeClock();
  const store = newStore(clock);
  const ids = sequentialIds();
  const errors: Error[] = [];
  const start = (): ServiceOrchestrator => {
    const o = new ServiceOrchestrator(store, mode, { clock, newId: ids, onError: (e) => errors.push(e) });
    o.start();
    running.push(o);
    return o;
  };
  return {
    clock,
    store,
    errors,
    start,
    async init(): Promise<ServiceOrchestrator> {
      for (const id of nodes) await put(store, "node", makeNode({ id }));
      return start();
    },
  };
}

const addService = (store: MemoryStore, f: ServiceFixture) => put(store, "service", makeService(f));
const setReplicas = (store: MemoryStore, id: string, replicas: number) =>
  change<Service>(store, "service", id, (s) => {
    s.spec!.mode = replicated(replicas);
    s.specVersion = { index: (s.specVersion?.index ?? 0) + 1 };
  });
const slotsOf = (tasks: Task[]) => tasks.map((t) => t.slot).sort((a, b) => a - b);
const liveIn = (store: MemoryStore, sid: string, slot: number) => liveTasks(store, sid).filter((t) => t.slot === slot);

describe("replicated orchestrator", () => {
  it("creates N NEW tasks in slots 1..N, and follows scaling up and down", async () => {
    const h = setup(replicatedMode());
    const o = await h.init();
    await addService(h.store, { id: "web", mode: replicated(3) });
    await until("3 tasks", () => liveTasks(h.store, "web").length === 3);
    const tasks = tasksOf(h.store, "web");
    expect(slotsOf(tasks)).toEqual([1, 2, 3]);
    expect(tasks.every((t) => t.status?.state === S.TASK_STATE_NEW && t.desiredState === S.TASK_STATE_RUNNING && t.serviceId === "web")).toBe(true);

    // Slots 1 and 2 run on n1, slot 3 on n2; a fourth slot is added and stays unassigned.
    await report(h.store, h.clock, tasks[0]!.id, S.TASK_STATE_RUNNING, "n1");
    await report(h.store, h.clock, tasks[1]!.id, S.TASK_STATE_RUNNING, "n1");
    await report(h.store, h.clock, tasks[2]!.id, S.TASK_STATE_RUNNING, "n2");
    await setReplicas(h.store, "web", 4);
    await until("4 tasks", () => liveTasks(h.store, "web").length === 4);

    await setReplicas(h.store, "web", 2);
    await until("2 live tasks", () => liveTasks(h.store, "web").length === 2);
    await quiesce(o);
    expect(slotsOf(liveTasks(h.store, "web"))).toEqual([1, 3]);
    expect(tasksOf(h.store, "web").filter((t) => t.desiredState === S.TASK_STATE_REMOVE).map((t) => t.slot).sort()).toEqual([2, 4]);
    expect(h.errors).toEqual([]);
  });

  it("replaces a FAILED task in its slot once the restart delay is over", async () => {
    const h = setup(replicatedMode());
    const o = await h.init();
    await addService(h.store, { id: "web", mode: replicated(2) });
    const [first] = await until("2 tasks", () => liveTasks(h.store, "web").length === 2 && liveTasks(h.store, "web"));
    await report(h.store, h.clock, first!.id, S.TASK_STATE_RUNNING, "n1");
    await report(h.store, h.clock, first!.id, S.TASK_STATE_FAILED);

    const replacement = await until("a replacement", () => liveIn(h.store, "web", first!.slot).find((t) => t.id !== first!.id));
    expect(replacement.desiredState).toBe(S.TASK_STATE_READY);
    expect(taskOf(h.store, first!.id)?.desiredState).toBe(S.TASK_STATE_SHUTDOWN);
    h.clock.advance(4_999);
    await quiesce(o);
    expect(taskOf(h.store, replacement.id)?.desiredState).toBe(S.TASK_STATE_READY);
    h.clock.advance(1);
    await until("the replacement started", () => taskOf(h.store, replacement.id)?.desiredState === S.TASK_STATE_RUNNING);
    expect(liveTasks(h.store, "web")).toHaveLength(2);
  });

  it("stops restarting a slot after max attempts, counted from the store across changes of leader", async () => {
    const h = setup(replicatedMode());
    let o = await h.init();
    await addService(h.store, { id: "web", mode: replicated(1), restart: { maxAttempts: 2, delayMs: 0 } });
    for (let attempt = 0; attempt < 3; attempt++) {
      await o.stop();
      o = h.start();
      const [t] = await until(`task ${attempt}`, () => {
        const live = liveTasks(h.store, "web");
        return live.length === 1 && live[0]!.desiredState === S.TASK_STATE_RUNNING && live;
      });
      h.clock.advance(10);
      await report(h.store, h.clock, t!.id, S.TASK_STATE_FAILED, "n1");
      await until(`task ${attempt} shut down`, () => taskOf(h.store, t!.id)?.desiredState === S.TASK_STATE_SHUTDOWN);
    }
    await quiesce(o);
    expect(liveTasks(h.store, "web")).toEqual([]);
    expect(tasksOf(h.store, "web")).toHaveLength(3);
  });

  it("replaces the tasks of a node that goes DOWN, leaving their observed state", async () => {
    const h = setup(replicatedMode());
    await h.init();
    await addService(h.store, { id: "web", mode: replicated(1) });
    const [t] = await until("a task", () => liveTasks(h.store, "web").length === 1 && liveTasks(h.store, "web"));
    await report(h.store, h.clock, t!.id, S.TASK_STATE_RUNNING, "n1");
    await change<Node>(h.store, "node", "n1", (n) => (n.status = { ...n.status!, state: NodeState.NODE_STATE_DOWN }));
    const next = await until("a replacement", () => liveIn(h.store, "web", 1).find((x) => x.id !== t!.id));
    expect(taskOf(h.store, t!.id)).toMatchObject({ desiredState: S.TASK_STATE_SHUTDOWN, status: { state: S.TASK_STATE_RUNNING } });
    expect(next.desiredState).toBe(S.TASK_STATE_READY);
    h.clock.advance(5_000);
    await until("the replacement started", () => taskOf(h.store, next.id)?.desiredState === S.TASK_STATE_RUNNING);
  });

  it("shuts down the tasks of a drained node and starts their replacements once they stopped, without a restart delay", async () => {
    const h = setup(replicatedMode());
    const o = await h.init();
    await addService(h.store, { id: "web", mode: replicated(1) });
    const [t] = await until("a task", () => liveTasks(h.store, "web").length === 1 && liveTasks(h.store, "web"));
    await report(h.store, h.clock, t!.id, S.TASK_STATE_RUNNING, "n1");
    await change<Node>(h.store, "node", "n1", (n) => (n.spec!.availability = NodeAvailability.NODE_AVAILABILITY_DRAIN));
    const next = await until("a replacement", () => liveIn(h.store, "web", 1).find((x) => x.id !== t!.id));
    expect(next.desiredState).toBe(S.TASK_STATE_READY);
    expect(taskOf(h.store, t!.id)?.desiredState).toBe(S.TASK_STATE_SHUTDOWN);

    // The old task takes 3 s to stop (its grace period): its replacement waits until then, no longer.
    h.clock.advance(3_000);
    await quiesce(o);
    expect(taskOf(h.store, next.id)?.desiredState).toBe(S.TASK_STATE_READY);
    await report(h.store, h.clock, t!.id, S.TASK_STATE_SHUTDOWN);
    await until("the replacement started", () => taskOf(h.store, next.id)?.desiredState === S.TASK_STATE_RUNNING);
  });

  it("a new leader starts a gated replacement whose old task stopped while there was none, and waits for one still stopping", async () => {
    const h = setup(replicatedMode());
    const first = await h.init();
    await addService(h.store, { id: "web", mode: replicated(2) });
    const [a, b] = await until("2 tasks", () => liveTasks(h.store, "web").length === 2 && liveTasks(h.store, "web"));
    await report(h.store, h.clock, a!.id, S.TASK_STATE_RUNNING, "n1");
    await report(h.store, h.clock, b!.id, S.TASK_STATE_RUNNING, "n1");
    h.clock.advance(1_000);
    await change<Node>(h.store, "node", "n1", (n) => (n.spec!.availability = NodeAvailability.NODE_AVAILABILITY_DRAIN));
    const gatedA = await until("a's replacement", () => liveIn(h.store, "web", a!.slot).find((t) => t.id !== a!.id));
    const gatedB = await until("b's replacement", () => liveIn(h.store, "web", b!.slot).find((t) => t.id !== b!.id));

    await first.stop();
    h.clock.advance(2_000);
    await report(h.store, h.clock, a!.id, S.TASK_STATE_SHUTDOWN);
    const second = h.start();
    await until("a's replacement started", () => taskOf(h.store, gatedA.id)?.desiredState === S.TASK_STATE_RUNNING);
    await quiesce(second);
    expect(taskOf(h.store, gatedB.id)?.desiredState).toBe(S.TASK_STATE_READY);
    await report(h.store, h.clock, b!.id, S.TASK_STATE_SHUTDOWN);
    await until("b's replacement started", () => taskOf(h.store, gatedB.id)?.desiredState === S.TASK_STATE_RUNNING);
  });

  it("starts a replacement whose old task never stops one minute after its creation", async () => {
    const h = setup(replicatedMode());
    const o = await h.init();
    await addService(h.store, { id: "web", mode: replicated(1) });
    const [t] = await until("a task", () => liveTasks(h.store, "web").length === 1 && liveTasks(h.store, "web"));
    await report(h.store, h.clock, t!.id, S.TASK_STATE_RUNNING, "n1");
    await change<Node>(h.store, "node", "n1", (n) => (n.spec!.availability = NodeAvailability.NODE_AVAILABILITY_DRAIN));
    const next = await until("a replacement", () => liveIn(h.store, "web", 1).find((x) => x.id !== t!.id));
    h.clock.advance(OLD_TASK_TIMEOUT_MS - 1);
    await quiesce(o);
    expect(taskOf(h.store, next.id)?.desiredState).toBe(S.TASK_STATE_READY);
    h.clock.advance(1);
    await until("the replacement started", () => taskOf(h.store, next.id)?.desiredState === S.TASK_STATE_RUNNING);
    expect(taskOf(h.store, t!.id)?.status?.state).toBe(S.TASK_STATE_RUNNING);
  });

  it("resumes READY-gated tasks after a change of leader: at once if the delay is over, else on a timer", async () => {
    const h = setup(replicatedMode());
    const first = await h.init();
    await addService(h.store, { id: "web", mode: replicated(2) });
    const [a, b] = await until("2 tasks", () => liveTasks(h.store, "web").length === 2 && liveTasks(h.store, "web"));
    await report(h.store, h.clock, a!.id, S.TASK_STATE_FAILED, "n1");
    const gatedA = await until("a's replacement", () => liveIn(h.store, "web", a!.slot).find((t) => t.desiredState === S.TASK_STATE_READY));
    h.clock.advance(3_000);
    await report(h.store, h.clock, b!.id, S.TASK_STATE_FAILED, "n2");
    const gatedB = await until("b's replacement", () => liveIn(h.store, "web", b!.slot).find((t) => t.desiredState === S.TASK_STATE_READY));

    await first.stop();
    expect(h.clock.pending).toBe(0);
    h.clock.advance(3_000); // a's delay is over (6 s), b's is not (3 s of 5)
    const second = h.start();
    await until("a's replacement started", () => taskOf(h.store, gatedA.id)?.desiredState === S.TASK_STATE_RUNNING);
    await quiesce(second);
    expect(taskOf(h.store, gatedB.id)?.desiredState).toBe(S.TASK_STATE_READY);
    h.clock.advance(2_000);
    await until("b's replacement started", () => taskOf(h.store, gatedB.id)?.desiredState === S.TASK_STATE_RUNNING);
  });

  it("loses no decision when agents' status writes race with its own", async () => {
    const h = setup(replicatedMode());
    const o = await h.init();
    await addService(h.store, { id: "web", mode: replicated(20), restart: { delayMs: 0 } });
    const tasks = await until("20 tasks", () => liveTasks(h.store, "web").length === 20 && liveTasks(h.store, "web"));
    for (const t of tasks) await report(h.store, h.clock, t.id, S.TASK_STATE_RUNNING, "n1");
    // Every task fails, while each one's status is rewritten again right after: the orchestrator's
    // transactions keep meeting newer versions.
    await Promise.all(tasks.map((t) => report(h.store, h.clock, t.id, S.TASK_STATE_FAILED)));
    await Promise.all(tasks.map((t) => change<Task>(h.store, "task", t.id, (x) => (x.status!.message = "exit 1")).catch(() => undefined)));
    await until("20 replacements", () => liveTasks(h.store, "web").filter((t) => !tasks.some((old) => old.id === t.id)).length === 20);
    await quiesce(o);
    expect(slotsOf(liveTasks(h.store, "web"))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(tasks.every((t) => taskOf(h.store, t.id)?.desiredState === S.TASK_STATE_SHUTDOWN)).toBe(true);
  });
});

/** `mode`, counting its decisions. */
function counting(mode: OrchestratorMode): OrchestratorMode & { decisions: number } {
  const counted = { ...mode, decisions: 0, decide: (input: Parameters<OrchestratorMode["decide"]>[0]) => (counted.decisions++, mode.decide(input)) };
  return counted;
}

describe("replicated orchestrator: which task changes are decided again", () => {
  const progress = [S.TASK_STATE_ACCEPTED, S.TASK_STATE_PREPARING, S.TASK_STATE_READY, S.TASK_STATE_STARTING, S.TASK_STATE_RUNNING];

  it("ignores a task's progress up to RUNNING, and reacts to its failure", async () => {
    const mode = counting(replicatedMode());
    const h = setup(mode);
    const o = await h.init();
    await addService(h.store, { id: "web", mode: replicated(2), restart: { delayMs: 0 } });
    const [a] = await until("2 tasks", () => liveTasks(h.store, "web").length === 2 && liveTasks(h.store, "web"));
    await quiesce(o);
    const before = mode.decisions;

    await report(h.store, h.clock, a!.id, S.TASK_STATE_ASSIGNED, "n1");
    for (const state of progress) await report(h.store, h.clock, a!.id, state);
    await quiesce(o);
    expect(mode.decisions).toBe(before);

    await report(h.store, h.clock, a!.id, S.TASK_STATE_FAILED);
    const replacement = await until("a replacement", () => liveIn(h.store, "web", a!.slot).find((t) => t.id !== a!.id));
    expect(replacement.desiredState).toBe(S.TASK_STATE_RUNNING);
    expect(mode.decisions).toBeGreaterThan(before);
    expect(h.errors).toEqual([]);
  });

  it("moves a task the scheduler placed on a node drained meanwhile", async () => {
    const h = setup(replicatedMode());
    const o = await h.init();
    await addService(h.store, { id: "web", mode: replicated(1) });
    const [t] = await until("a task", () => liveTasks(h.store, "web").length === 1 && liveTasks(h.store, "web"));
    await change<Node>(h.store, "node", "n2", (n) => (n.spec!.availability = NodeAvailability.NODE_AVAILABILITY_DRAIN));
    await quiesce(o);
    expect(taskOf(h.store, t!.id)?.desiredState).toBe(S.TASK_STATE_RUNNING);

    await report(h.store, h.clock, t!.id, S.TASK_STATE_ASSIGNED, "n2");
    const next = await until("a replacement", () => liveIn(h.store, "web", 1).find((x) => x.id !== t!.id));
    expect(taskOf(h.store, t!.id)?.desiredState).toBe(S.TASK_STATE_SHUTDOWN);
    // n2's agent may have received it: the replacement waits until it reports it stopped.
    expect(next.desiredState).toBe(S.TASK_STATE_READY);
    await report(h.store, h.clock, t!.id, S.TASK_STATE_SHUTDOWN);
    await until("the replacement started", () => taskOf(h.store, next.id)?.desiredState === S.TASK_STATE_RUNNING);
  });

  it("decides again when a task reaches RUNNING while the service is being updated", async () => {
    // An updater that leaves the status as it is: only the runner's choice of passes is measured.
    const mode = counting(replicatedMode({ name: "idle", update: () => undefined }));
    const h = setup(mode);
    const o = await h.init();
    await addService(h.store, { id: "web", mode: replicated(2) });
    const [a, b] = await until("2 tasks", () => liveTasks(h.store, "web").length === 2 && liveTasks(h.store, "web"));
    for (const t of [a!, b!]) await report(h.store, h.clock, t.id, S.TASK_STATE_STARTING, "n1");
    await change<Service>(h.store, "service", "web", (s) => (s.updateStatus = { state: UpdateState.UPDATE_STATE_UPDATING, startedAtUnixMs: h.clock.now(), completedAtUnixMs: 0, message: "" }));
    await quiesce(o);
    const before = mode.decisions;

    await report(h.store, h.clock, a!.id, S.TASK_STATE_RUNNING);
    await quiesce(o);
    expect(mode.decisions).toBe(before + 1);

    await change<Service>(h.store, "service", "web", (s) => (s.updateStatus!.state = UpdateState.UPDATE_STATE_COMPLETED));
    await quiesce(o);
    const after = mode.decisions;
    await report(h.store, h.clock, b!.id, S.TASK_STATE_RUNNING);
    await quiesce(o);
    expect(mode.decisions).toBe(after);
  });
});

describe("global orchestrator", () => {
  it("follows nodes joining, leaving, drained and relabelled", async () => {
    const h = setup(globalMode(), ["n1", "n2"]);
    await h.init();
    await addService(h.store, { id: "agent", mode: global, constraints: ["node.labels.role!=edge"] });
    const onNodes = () => liveTasks(h.store, "agent").map((t) => t.nodeId).sort();
    await until("a task per node", () => onNodes().join() === "n1,n2");
    expect(tasksOf(h.store, "agent").every((t) => t.slot === 0)).toBe(true);

    await put(h.store, "node", makeNode({ id: "n3" }));
    await until("n3 gets one", () => onNodes().join() === "n1,n2,n3");
    await change<Node>(h.store, "node", "n1", (n) => (n.spec!.availability = NodeAvailability.NODE_AVAILABILITY_DRAIN));
    await until("n1's is shut down", () => onNodes().join() === "n2,n3");
    await change<Node>(h.store, "node", "n2", (n) => (n.spec!.annotations!.labels = { role: "edge" }));
    await until("n2's is shut down", () => onNodes().join() === "n3");
    await h.store.update((tx) => tx.remove("node", "n3"));
    await until("n3's is shut down", () => onNodes().join() === "");
    await change<Node>(h.store, "node", "n1", (n) => (n.spec!.availability = NodeAvailability.NODE_AVAILABILITY_ACTIVE));
    await until("n1 gets one again", () => onNodes().join() === "n1");
  });
});

describe("job orchestrator", () => {
  it("runs a job of 5 completions, at most 2 at a time, to completion", async () => {
    const h = setup(jobMode());
    const o = await h.init();
    await addService(h.store, { id: "batch", mode: replicatedJob(2, 5), jobIteration: 0 });
    const complete = () => tasksOf(h.store, "batch").filter((t) => t.status?.state === S.TASK_STATE_COMPLETE);
    let most = 0;
    while (complete().length < 5) {
      const runnable = await until("a task to run", () => {
        const live = liveTasks(h.store, "batch").filter((t) => t.status?.state !== S.TASK_STATE_COMPLETE);
        return live.length > 0 && live;
      });
      most = Math.max(most, runnable.length);
      await report(h.store, h.clock, runnable[0]!.id, S.TASK_STATE_RUNNING, "n1");
      await report(h.store, h.clock, runnable[0]!.id, S.TASK_STATE_COMPLETE);
      await quiesce(o);
    }
    expect(most).toBe(2);
    expect(tasksOf(h.store, "batch")).toHaveLength(5);
    expect(slotsOf(complete())).toEqual([1, 2, 3, 4, 5]);
  });

  it("runs a global job once per node", async () => {
    const h = setup(jobMode(), ["n1", "n2"]);
    const o = await h.init();
    await put(h.store, "service", makeService({ id: "once", mode: { $case: "globalJob", globalJob: {} }, jobIteration: 0 }));
    const tasks = await until("a run per node", () => liveTasks(h.store, "once").length === 2 && liveTasks(h.store, "once"));
    for (const t of tasks) await report(h.store, h.clock, t.id, S.TASK_STATE_COMPLETE, t.nodeId);
    await quiesce(o);
    expect(tasksOf(h.store, "once")).toHaveLength(2);
  });
});
