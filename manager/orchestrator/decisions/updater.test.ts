import { describe, expect, it } from "vitest";
import type { Service, Task } from "../../../proto/gen/objects.js";
import { NodeState, TaskState as S, UpdateFailureAction as Action, UpdateOrder, UpdateState } from "../../../proto/gen/types.js";
import { global, makeNode, makeService, makeTask, replicated, sequentialIds, serviceInput, type ServiceFixture, type TaskFixture } from "../test-support.js";
import { OLD_TASK_TIMEOUT_MS } from "./gate.js";
import { reconcileGlobal } from "./global.js";
import type { Decision } from "./plan.js";
import { reconcileReplicated } from "./replicated.js";
import { MIN_START_BOUND_MS } from "./update-config.js";

/** When the update started, and when it created its first tasks. */
const U = 100_000;
const C = U + 10;
const nodes = ["n1", "n2", "n3", "n4"].map((id) => makeNode({ id }));
/** How long a stop-first replacement waits at most for the old task to stop. */
const WAIT = OLD_TASK_TIMEOUT_MS;
/** How long a new task may take to run (the default 5 s monitor window, no health check): a minute. */
const BOUND = MIN_START_BOUND_MS;

/** Service "s" at spec version 2 (image v2), its previous spec version 1 (image v1), 3 replicas, UPDATING since U. */
function svc(o: Partial<ServiceFixture> & { state?: UpdateState | null } = {}): Service {
  const { state, ...rest } = o;
  return makeService({
    id: "s",
    mode: replicated(3),
    image: "v2",
    specVersion: 2,
    previous: { image: "v1", specVersion: 1 },
    ...(state === null ? {} : { updateStatus: { state: state ?? UpdateState.UPDATE_STATE_UPDATING, startedAtUnixMs: U, message: "update in progress" } }),
    ...rest,
  });
}
/** The same service rolling back: spec version 1 restored (image v1), since R. */
const R = U + 60_000;
const rollingBack = (o: Partial<ServiceFixture> = {}): Service =>
  makeService({
    id: "s",
    mode: replicated(3),
    image: "v1",
    specVersion: 1,
    previous: { image: "v2", specVersion: 2 },
    updateStatus: { state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED, startedAtUnixMs: R, message: "manually requested rollback" },
    ...o,
  });

/** A task of the old spec in `slot`, on node n<slot>, running. */
const old = (id: string, slot: number, o: Partial<TaskFixture> = {}): Task => makeTask({ id, slot, node: `n${slot}`, image: "v1", specVersion: 1, createdAt: 1, ...o });
/** An old task the update shut down at C. */
const replaced = (id: string, slot: number): Task => old(id, slot, { desired: S.TASK_STATE_SHUTDOWN, state: S.TASK_STATE_SHUTDOWN, statusAt: C });
/** The update's new task in `slot`, created at C; running since `runningAt` unless told otherwise. */
const fresh = (id: string, slot: number, runningAt = C + 1_000, o: Partial<TaskFixture> = {}): Task =>
  makeTask({ id, slot, node: `n${slot}`, image: "v2", specVersion: 2, createdAt: C, statusAt: runningAt, ...o });
const starting = (id: string, slot: number, o: Partial<TaskFixture> = {}): Task => fresh(id, slot, C, { state: S.TASK_STATE_STARTING, ...o });
const failedAt = (id: string, slot: number, at: number, o: Partial<TaskFixture> = {}): Task => fresh(id, slot, at, { state: S.TASK_STATE_FAILED, ...o });
const threeOld = (): Task[] => [old("a1", 1), old("a2", 2), old("a3", 3)];

const decide = (service: Service, tasks: Task[], now: number): Decision => reconcileReplicated(serviceInput(service, tasks, nodes, now, sequentialIds("new")));

const short = (name: string | undefined): string => (name ?? "?").replace(/^(TASK|UPDATE)_STATE_/, "");
const imageOf = (t: Task): string => (t.spec?.runtime?.$case === "container" ? t.spec.runtime.container.image : "");

/** The decision as lines: "ID → DESIRED", "create slot N IMAGE DESIRED", "status STATE: message". */
function summary(d: Decision): string[] {
  const out: string[] = [];
  for (const s of d.steps) {
    for (const c of s.change) out.push(`${c.task.id} → ${short(S[c.desiredState!])}`);
    for (const t of s.create) out.push(`create ${t.nodeId ? `on ${t.nodeId}` : `slot ${t.slot}`} ${imageOf(t)} ${short(S[t.desiredState])}`);
    if (s.service) out.push(`status ${short(UpdateState[s.service.updateStatus.state])}: ${s.service.updateStatus.message}${s.service.rollback ? " (rollback)" : ""}`);
  }
  return out;
}

const MSG = "due to failure or early termination of task";

describe("rollingUpdater: which slots are replaced, and when", () => {
  it.each<[string, Service, Task[], number, string[], number | null]>([
    ["no update status, dirty tasks: UPDATING from now, nothing replaced yet", svc({ state: null }), threeOld(), U, ["status UPDATING: update in progress"], null],
    [
      "no update status, nothing dirty (the replica count changed): no update",
      svc({ state: null }),
      threeOld().map((t) => makeTask({ id: t.id, slot: t.slot, node: t.nodeId, image: "v2", specVersion: 1 })),
      U,
      [],
      null,
    ],
    ["parallelism 1 (default), stop-first: slot 1, the old task shut down with it", svc(), threeOld(), U + 1, ["a1 → SHUTDOWN", "create slot 1 v2 READY"], U + 1 + WAIT],
    ["parallelism 2: slots 1 and 2", svc({ update: { parallelism: 2 } }), threeOld(), U + 1, ["a1 → SHUTDOWN", "create slot 1 v2 READY", "a2 → SHUTDOWN", "create slot 2 v2 READY"], U + 1 + WAIT],
    [
      "parallelism 0: every slot at once",
      svc({ update: { parallelism: 0 } }),
      threeOld(),
      U + 1,
      ["a1 → SHUTDOWN", "create slot 1 v2 READY", "a2 → SHUTDOWN", "create slot 2 v2 READY", "a3 → SHUTDOWN", "create slot 3 v2 READY"],
      U + 1 + WAIT,
    ],
    ["start-first: the new task is created, the old one left running", svc({ update: { parallelism: 1, order: UpdateOrder.UPDATE_ORDER_START_FIRST } }), threeOld(), U + 1, ["create slot 1 v2 RUNNING"], null],
    ["a slot's new task is starting: waits, until its start bound", svc(), [replaced("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)], C + 1_000, [], C + BOUND],
    [
      "a slot's new task runs: the next slot (delay 0), and a wake-up at the end of the monitor window",
      svc(),
      [replaced("a1", 1), fresh("b1", 1), old("a2", 2), old("a3", 3)],
      C + 1_000,
      ["a2 → SHUTDOWN", "create slot 2 v2 READY"],
      C + 6_000,
    ],
    ["delay: the slot's unit waits the delay after its new task ran", svc({ update: { parallelism: 1, delayMs: 10_000 } }), [replaced("a1", 1), fresh("b1", 1), old("a2", 2), old("a3", 3)], C + 7_000, [], C + 11_000],
    [
      "delay over: the next slot",
      svc({ update: { parallelism: 1, delayMs: 10_000 } }),
      [replaced("a1", 1), fresh("b1", 1), old("a2", 2), old("a3", 3)],
      C + 11_000,
      ["a2 → SHUTDOWN", "create slot 2 v2 READY"],
      C + 11_000 + WAIT,
    ],
    [
      "a new slot from scaling up is not an update slot: it does not hold a unit",
      svc({ mode: replicated(4) }),
      [old("a1", 1), old("a2", 2), old("a3", 3), starting("b4", 4)],
      C + 1_000,
      ["a1 → SHUTDOWN", "create slot 1 v2 READY"],
      C + 1_000 + WAIT,
    ],
    [
      "only dirty tasks are replaced: an older version with the same spec is left alone",
      svc({ update: { parallelism: 0 } }),
      [old("a1", 1), makeTask({ id: "a2", slot: 2, node: "n2", image: "v2", specVersion: 1 }), old("a3", 3)],
      U + 1,
      ["a1 → SHUTDOWN", "create slot 1 v2 READY", "a3 → SHUTDOWN", "create slot 3 v2 READY"],
      U + 1 + WAIT,
    ],
    [
      "force update: the same image, another force_update, every slot is dirty",
      (() => {
        const s = svc({ image: "v1", update: { parallelism: 0 } });
        s.spec!.task!.forceUpdate = 1;
        return s;
      })(),
      threeOld(),
      U + 1,
      ["a1 → SHUTDOWN", "create slot 1 v1 READY", "a2 → SHUTDOWN", "create slot 2 v1 READY", "a3 → SHUTDOWN", "create slot 3 v1 READY"],
      U + 1 + WAIT,
    ],
    ["paused: nothing is replaced", svc({ state: UpdateState.UPDATE_STATE_PAUSED, update: { parallelism: 0 } }), [replaced("a1", 1), fresh("b1", 1), old("a2", 2), old("a3", 3)], C + 60_000, [], null],
    [
      "completed, slots dirty again (a kept task's node relabelled out of the constraints): UPDATING again",
      svc({ state: UpdateState.UPDATE_STATE_COMPLETED }),
      [replaced("a1", 1), fresh("b1", 1), old("a2", 2), old("a3", 3)],
      C + 60_000,
      ["status UPDATING: update in progress"],
      null,
    ],
    ["completed, nothing dirty: nothing", svc({ state: UpdateState.UPDATE_STATE_COMPLETED }), [replaced("a1", 1), fresh("b1", 1), fresh("b2", 2), fresh("b3", 3)], C + 60_000, [], null],
    ["rollback completed, slots dirty again: UPDATING again", svc({ state: UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED }), [old("a1", 1), fresh("b2", 2), fresh("b3", 3)], C + 60_000, ["status UPDATING: update in progress"], null],
  ])("%s", (_, service, tasks, now, want, wake) => {
    const d = decide(service, tasks, now);
    expect(summary(d)).toEqual(want);
    expect(d.wakeAtMs).toBe(wake);
  });

  it("global services update node by node", () => {
    const service = makeService({ id: "g", mode: global, image: "v2", specVersion: 2, updateStatus: { state: UpdateState.UPDATE_STATE_UPDATING, startedAtUnixMs: U } });
    const tasks = ["n1", "n2", "n3"].map((n) => makeTask({ id: `a-${n}`, serviceId: "g", node: n, image: "v1", specVersion: 1, createdAt: 1 }));
    const ns = nodes.slice(0, 3);
    expect(summary(reconcileGlobal(serviceInput(service, tasks, ns, U + 1)))).toEqual(["a-n1 → SHUTDOWN", "create on n1 v2 READY"]);

    const next = [{ ...tasks[0]!, desiredState: S.TASK_STATE_SHUTDOWN }, makeTask({ id: "b-n1", serviceId: "g", node: "n1", image: "v2", specVersion: 2, createdAt: C, statusAt: C + 500 }), ...tasks.slice(1)];
    expect(summary(reconcileGlobal(serviceInput(service, next, ns, C + 500)))).toEqual(["a-n2 → SHUTDOWN", "create on n2 v2 READY"]);
  });
});

describe("rollingUpdater: failures", () => {
  const restart = (id: string) => [`${id} → SHUTDOWN`, "create slot 1 v2 READY"];

  it.each<[string, Service, Task[], number, string[]]>([
    [
      "a new task fails within the monitor window: PAUSED with the reason (its slot restarts)",
      svc(),
      [replaced("a1", 1), failedAt("b1", 1, C + 3_000, { node: "n1" }), old("a2", 2), old("a3", 3)],
      C + 3_000,
      [...restart("b1"), `status PAUSED: update paused ${MSG} b1: failed`],
    ],
    ["a new task not running yet just before its start bound (1 min from its creation): no failure", svc(), [replaced("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)], C + BOUND - 1, []],
    [
      "a new task does not run within its start bound (1 min from its creation): PAUSED",
      svc(),
      [replaced("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)],
      C + BOUND,
      [`status PAUSED: update paused ${MSG} b1: not running within 60s (starting)`],
    ],
    [
      "monitor 0: no monitor window, but still a 1 min start bound",
      svc({ update: { parallelism: 1, monitorMs: 0 } }),
      [replaced("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)],
      C + BOUND,
      [`status PAUSED: update paused ${MSG} b1: not running within 60s (starting)`],
    ],
    [
      "a monitor window over a minute is the start bound",
      svc({ update: { parallelism: 1, monitorMs: 90_000 } }),
      [replaced("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)],
      C + 90_000,
      [`status PAUSED: update paused ${MSG} b1: not running within 90s (starting)`],
    ],
    [
      "a task that ends once its watch (start bound + monitor window) is over is not a failure",
      svc(),
      [replaced("a1", 1), failedAt("b1", 1, C + BOUND + 5_001), old("a2", 2), old("a3", 3)],
      C + BOUND + 5_001,
      [...restart("b1"), "a2 → SHUTDOWN", "create slot 2 v2 READY"],
    ],
    [
      "a task shut down or orphaned (its node lost) is not a failure",
      svc(),
      [replaced("a1", 1), fresh("b1", 1, C + 2_000, { state: S.TASK_STATE_ORPHANED }), old("a2", 2), old("a3", 3)],
      C + 2_000,
      ["b1 → SHUTDOWN", "create slot 1 v2 READY", "a2 → SHUTDOWN", "create slot 2 v2 READY"],
    ],
    [
      "max failure ratio 0.5, 1 failed of 2 tried: goes on",
      svc({ update: { parallelism: 2, maxFailureRatio: 0.5 } }),
      [replaced("a1", 1), failedAt("b1", 1, C + 2_000), replaced("a2", 2), fresh("b2", 2), old("a3", 3)],
      C + 2_000,
      [...restart("b1"), "a3 → SHUTDOWN", "create slot 3 v2 READY"],
    ],
    [
      "max failure ratio 0.5, 2 failed of 3 tried: PAUSED, naming the first failure",
      svc({ update: { parallelism: 3, maxFailureRatio: 0.5 } }),
      [replaced("a1", 1), failedAt("b1", 1, C + 2_000), replaced("a2", 2), fresh("b2", 2), replaced("a3", 3), failedAt("b3", 3, C + 1_500)],
      C + 2_000,
      [...restart("b1"), "b3 → SHUTDOWN", "create slot 3 v2 READY", `status PAUSED: update paused ${MSG} b3: failed`],
    ],
    [
      "failure action continue: goes on",
      svc({ update: { parallelism: 1, failureAction: Action.UPDATE_FAILURE_ACTION_CONTINUE } }),
      [replaced("a1", 1), failedAt("b1", 1, C + 2_000), old("a2", 2), old("a3", 3)],
      C + 2_000,
      [...restart("b1"), "a2 → SHUTDOWN", "create slot 2 v2 READY"],
    ],
    [
      "failure action rollback: the previous spec is restored, ROLLBACK_STARTED",
      svc({ update: { parallelism: 1, failureAction: Action.UPDATE_FAILURE_ACTION_ROLLBACK } }),
      [replaced("a1", 1), failedAt("b1", 1, C + 2_000), old("a2", 2), old("a3", 3)],
      C + 2_000,
      [...restart("b1"), `status ROLLBACK_STARTED: update rolled back ${MSG} b1: failed (rollback)`],
    ],
    [
      "failure action rollback without a previous spec: PAUSED, saying so",
      (() => {
        const s = svc({ update: { parallelism: 1, failureAction: Action.UPDATE_FAILURE_ACTION_ROLLBACK } });
        s.previousSpec = undefined;
        return s;
      })(),
      [replaced("a1", 1), failedAt("b1", 1, C + 2_000), old("a2", 2), old("a3", 3)],
      C + 2_000,
      [...restart("b1"), `status PAUSED: update paused ${MSG} b1: failed (no previous spec to roll back to)`],
    ],
  ])("%s", (_, service, tasks, now, want) => {
    expect(summary(decide(service, tasks, now))).toEqual(want);
  });

  it("a restart replacement's start bound runs from the end of its restart delay", () => {
    // Slot 1's old task failed at C; its replacement (the current spec) waited 5 s before it could start.
    const tasks = [old("a1", 1, { state: S.TASK_STATE_FAILED, desired: S.TASK_STATE_SHUTDOWN, statusAt: C }), starting("b1", 1), old("a2", 2), old("a3", 3)];
    const d = decide(svc(), tasks, C + 5_000 + BOUND - 1);
    expect(summary(d)).toEqual([]);
    expect(d.wakeAtMs).toBe(C + 5_000 + BOUND);
    expect(summary(decide(svc(), tasks, C + 5_000 + BOUND))).toEqual([`status PAUSED: update paused ${MSG} b1: not running within 60s (starting)`]);
  });

  it("a service with a health check: the start bound is a minute plus the time the check may take to decide", () => {
    const service = svc();
    const runtime = service.spec?.task?.runtime;
    if (runtime?.$case === "container") runtime.container.healthcheck = { test: ["CMD", "check"], intervalMs: 2_000, timeoutMs: 1_000, retries: 3, startPeriodMs: 20_000, startIntervalMs: 0 };
    const tasks = [replaced("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)];
    const bound = BOUND + 20_000 + 3 * 3_000;
    const waiting = decide(service, tasks, C + BOUND);
    expect(summary(waiting)).toEqual([]);
    expect(waiting.wakeAtMs).toBe(C + bound);
    expect(summary(decide(service, tasks, C + bound))).toEqual([`status PAUSED: update paused ${MSG} b1: not running within 89s (starting)`]);
  });

  it("a new task the scheduler cannot place: the failure says it is pending, and why", () => {
    const pending = fresh("b1", 1, C, { node: "", state: S.TASK_STATE_PENDING });
    pending.status!.err = "no suitable node (1 node not available for new tasks; 3 nodes lack memory)";
    const tasks = [replaced("a1", 1), pending, old("a2", 2), old("a3", 3)];
    expect(summary(decide(svc(), tasks, C + BOUND))).toEqual([
      `status PAUSED: update paused ${MSG} b1: not running within 60s (pending: no suitable node (1 node not available for new tasks; 3 nodes lack memory))`,
    ]);
  });
});

describe("rollingUpdater: completion", () => {
  const done = (): Task[] => [replaced("a1", 1), fresh("b1", 1), replaced("a2", 2), fresh("b2", 2, C + 2_000), replaced("a3", 3), fresh("b3", 3, C + 3_000)];

  it("waits for the last new task's monitor window", () => {
    const d = decide(svc(), done(), C + 7_999);
    expect(summary(d)).toEqual([]);
    expect(d.wakeAtMs).toBe(C + 8_000);
  });

  it("then COMPLETED, with the time", () => {
    const d = decide(svc(), done(), C + 8_000);
    expect(summary(d)).toEqual(["status COMPLETED: update completed"]);
    expect(d.steps[0]!.service).toMatchObject({ seen: { state: UpdateState.UPDATE_STATE_UPDATING, startedAtUnixMs: U }, updateStatus: { startedAtUnixMs: U, completedAtUnixMs: C + 8_000 } });
    expect(d.steps[0]!.specVersion).toBe(2);
  });

  it("a manual rollback with nothing to replace completes at once: ROLLBACK_COMPLETED", () => {
    const tasks = threeOld();
    expect(summary(decide(rollingBack(), tasks, R + 1))).toEqual(["status ROLLBACK_COMPLETED: rollback completed"]);
  });
});

describe("rollingUpdater: rollback", () => {
  /** Slot 1 was updated (b1 runs v2); slots 2 and 3 still run v1. */
  const midway = (): Task[] => [replaced("a1", 1), fresh("b1", 1), old("a2", 2), old("a3", 3)];

  it("replaces only the slots the update changed, with its rollback config", () => {
    const service = rollingBack();
    service.previousSpec!.rollback = { parallelism: 1, delayMs: 0, failureAction: 0, maxFailureRatio: 0, order: UpdateOrder.UPDATE_ORDER_START_FIRST };
    expect(summary(decide(service, midway(), R + 1))).toEqual(["create slot 1 v1 RUNNING"]);
  });

  it("a rollback's failure pauses it: ROLLBACK_PAUSED", () => {
    const tasks = [...midway().map((t) => (t.id === "b1" ? { ...t, desiredState: S.TASK_STATE_SHUTDOWN } : t)), old("c1", 1, { createdAt: R + 10, state: S.TASK_STATE_REJECTED, statusAt: R + 500 })];
    expect(summary(decide(rollingBack(), tasks, R + 500))).toEqual(["c1 → SHUTDOWN", "create slot 1 v1 READY", `status ROLLBACK_PAUSED: rollback paused ${MSG} c1: rejected`]);
  });

  it("a rollback is never rolled back, whatever its config says", () => {
    const service = rollingBack({ rollback: { failureAction: Action.UPDATE_FAILURE_ACTION_ROLLBACK } });
    service.previousSpec!.rollback = service.spec!.rollback;
    const tasks = [...midway().map((t) => (t.id === "b1" ? { ...t, desiredState: S.TASK_STATE_SHUTDOWN } : t)), old("c1", 1, { createdAt: R + 10, state: S.TASK_STATE_FAILED, statusAt: R + 500 })];
    expect(summary(decide(service, tasks, R + 500)).at(-1)).toMatch(/^status ROLLBACK_PAUSED: rollback paused/);
  });

  it("completes once the slots it replaced ran through their monitor window: ROLLBACK_COMPLETED", () => {
    const tasks = [...midway().map((t) => (t.id === "b1" ? { ...t, desiredState: S.TASK_STATE_SHUTDOWN, status: { ...t.status!, state: S.TASK_STATE_SHUTDOWN } } : t)), old("c1", 1, { createdAt: R + 10, statusAt: R + 1_000 })];
    expect(summary(decide(rollingBack(), tasks, R + 5_999))).toEqual([]);
    expect(summary(decide(rollingBack(), tasks, R + 6_000))).toEqual(["status ROLLBACK_COMPLETED: rollback completed"]);
  });
});

describe("rollingUpdater: start-first", () => {
  const startFirst = (o: Parameters<typeof svc>[0] = {}) => svc({ update: { parallelism: 1, order: UpdateOrder.UPDATE_ORDER_START_FIRST }, ...o });

  it.each<[string, Service, Task[], number, string[]]>([
    ["the old task runs beside the new one until it runs", startFirst(), [old("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)], C + 1_000, []],
    ["once the new one runs, the old one is shut down and the next slot starts", startFirst(), [old("a1", 1), fresh("b1", 1), old("a2", 2), old("a3", 3)], C + 1_000, ["a1 → SHUTDOWN", "create slot 2 v2 RUNNING"]],
    [
      "the new one fails before it runs: it is shut down, not restarted; the old one keeps the slot",
      startFirst(),
      [old("a1", 1), failedAt("b1", 1, C + 1_000), old("a2", 2), old("a3", 3)],
      C + 1_000,
      ["b1 → SHUTDOWN", `status PAUSED: update paused ${MSG} b1: failed`],
    ],
    [
      "the new one does not run in time: it is shut down, the old one keeps the slot",
      startFirst(),
      [old("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)],
      C + BOUND,
      ["b1 → SHUTDOWN", `status PAUSED: update paused ${MSG} b1: not running within 60s (starting)`],
    ],
    [
      "with continue, the failed slot is not tried again: the next one is",
      startFirst({ update: { parallelism: 1, order: UpdateOrder.UPDATE_ORDER_START_FIRST, failureAction: Action.UPDATE_FAILURE_ACTION_CONTINUE } }),
      [old("a1", 1), fresh("b1", 1, C + 1_000, { state: S.TASK_STATE_SHUTDOWN, desired: S.TASK_STATE_SHUTDOWN }), old("a2", 2), old("a3", 3)],
      C + 6_000,
      ["create slot 2 v2 RUNNING"],
    ],
    [
      "paused: a replacement already on its way still finishes",
      startFirst({ state: UpdateState.UPDATE_STATE_PAUSED }),
      [old("a1", 1), fresh("b1", 1), old("a2", 2), old("a3", 3)],
      C + 1_000,
      ["a1 → SHUTDOWN"],
    ],
    [
      "paused: a replacement already on its way that does not run in time is shut down",
      startFirst({ state: UpdateState.UPDATE_STATE_PAUSED }),
      [old("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)],
      C + BOUND,
      ["b1 → SHUTDOWN"],
    ],
    [
      "a rollback overtakes a replacement on its way: the new task is shut down, the old one kept",
      rollingBack(),
      [old("a1", 1), starting("b1", 1), old("a2", 2), old("a3", 3)],
      R + 1,
      ["b1 → SHUTDOWN"],
    ],
  ])("%s", (_, service, tasks, now, want) => {
    expect(summary(decide(service, tasks, now))).toEqual(want);
  });
});

describe("rollingUpdater: a change of leader", () => {
  // Everything the updater reads is in the store: a new leader's first decision from a snapshot taken
  // mid-update continues it, whatever the previous leader had in memory.
  it.each<[string, Task[], number, string[], number | null]>([
    ["UPDATING was committed, no slot replaced yet: slot 1", threeOld(), U + 30_000, ["a1 → SHUTDOWN", "create slot 1 v2 READY"], U + 30_000 + WAIT],
    [
      "slot 2's new task is starting: no second replacement, a wake-up at its bound",
      // a2 was shut down (at C + 1 s) in the step that made b2.
      [replaced("a1", 1), fresh("b1", 1), old("a2", 2, { desired: S.TASK_STATE_SHUTDOWN, state: S.TASK_STATE_SHUTDOWN, statusAt: C + 1_000 }), starting("b2", 2, { createdAt: C + 1_000 }), old("a3", 3)],
      C + 30_000,
      [],
      C + 1_000 + BOUND,
    ],
    [
      "slot 2's new task ran long ago: slot 3",
      [replaced("a1", 1), fresh("b1", 1), replaced("a2", 2), fresh("b2", 2, C + 2_000, { createdAt: C + 1_000 }), old("a3", 3)],
      C + 30_000,
      ["a3 → SHUTDOWN", "create slot 3 v2 READY"],
      C + 30_000 + WAIT,
    ],
  ])("%s", (_, tasks, now, want, wake) => {
    const first = decide(svc(), tasks, now);
    const again = reconcileReplicated(serviceInput(svc(), tasks, nodes, now, sequentialIds("other")));
    expect(summary(first)).toEqual(want);
    expect(summary(again)).toEqual(want);
    expect([first.wakeAtMs, again.wakeAtMs]).toEqual([wake, wake]);
  });
});

describe("rollingUpdater: a stop-first replacement waits at its gate for the old task to stop", () => {
  // Slot 1's old task a1 (on n1) was shut down at C, in the step that made b1 (on n2) desired READY.
  const stopping = (o: Partial<TaskFixture> = {}): Task => old("a1", 1, { desired: S.TASK_STATE_SHUTDOWN, ...o });
  const stoppedAt = (at: number): Task => stopping({ state: S.TASK_STATE_SHUTDOWN, statusAt: at });
  const gated = (o: Partial<TaskFixture> = {}): Task => fresh("b1", 1, C + 200, { node: "n2", state: S.TASK_STATE_READY, desired: S.TASK_STATE_READY, ...o });
  const started = (o: Partial<TaskFixture> = {}): Task => gated({ desired: S.TASK_STATE_RUNNING, state: S.TASK_STATE_STARTING, ...o });
  const rest = (): Task[] => [old("a2", 2), old("a3", 3)];
  /** n1 DOWN since `since` (its last write). */
  const n1DownSince = (since: number) => [{ ...makeNode({ id: "n1", state: NodeState.NODE_STATE_DOWN }), meta: { version: { index: 5 }, createdAtUnixMs: 0, updatedAtUnixMs: since } }, ...nodes.slice(1)];

  it.each<[string, Task[], typeof nodes, number, string[], number | null]>([
    ["the old task still stopping: the new one stays READY and its slot busy; woken 1 min after its creation", [stopping(), gated(), ...rest()], nodes, C + 5_000, [], C + WAIT],
    ["the old task stopped (SHUTDOWN, 8 s later): the new one starts at once, no restart delay", [stoppedAt(C + 8_000), gated(), ...rest()], nodes, C + 8_000, ["b1 → RUNNING"], C + 8_000 + BOUND],
    ["the old task's node went DOWN while it was stopping: the new one starts at once", [stopping(), gated(), ...rest()], n1DownSince(C + 3_000), C + 3_000, ["b1 → RUNNING"], C + 3_000 + BOUND],
    ["the old task never stops: the new one starts 1 min after its creation", [stopping(), gated(), ...rest()], nodes, C + WAIT, ["b1 → RUNNING"], C + WAIT + BOUND],
    ["the old one stopped late, the new one is starting: its bound runs from the stop, no failure yet", [stoppedAt(C + 8_000), started(), ...rest()], nodes, C + 8_000 + BOUND - 1, [], C + 8_000 + BOUND],
    [
      "…a failure once the start bound (1 min) passed since the old one stopped",
      [stoppedAt(C + 8_000), started(), ...rest()],
      nodes,
      C + 8_000 + BOUND,
      [`status PAUSED: update paused ${MSG} b1: not running within 60s (starting)`],
      null,
    ],
    ["the new one runs: the next slot, gated in turn", [stoppedAt(C + 8_000), started({ state: S.TASK_STATE_RUNNING, statusAt: C + 9_000 }), ...rest()], nodes, C + 9_000, ["a2 → SHUTDOWN", "create slot 2 v2 READY"], C + 14_000],
  ])("%s", (_, tasks, ns, now, want, wake) => {
    // A new leader (another id source, no memory) decides the same from the same store.
    for (const ids of [sequentialIds("new"), sequentialIds("other")]) {
      const d = reconcileReplicated(serviceInput(svc(), tasks, ns, now, ids));
      expect(summary(d)).toEqual(want);
      expect(d.wakeAtMs).toBe(wake);
    }
  });

  it("a global service's new task waits on the same node for the old one", () => {
    const service = makeService({ id: "g", mode: global, image: "v2", specVersion: 2, updateStatus: { state: UpdateState.UPDATE_STATE_UPDATING, startedAtUnixMs: U } });
    const a = makeTask({ id: "a-n1", serviceId: "g", node: "n1", image: "v1", specVersion: 1, createdAt: 1, desired: S.TASK_STATE_SHUTDOWN });
    const b = makeTask({ id: "b-n1", serviceId: "g", node: "n1", image: "v2", specVersion: 2, createdAt: C, desired: S.TASK_STATE_READY, state: S.TASK_STATE_READY });
    const ns = nodes.slice(0, 1);
    expect(summary(reconcileGlobal(serviceInput(service, [a, b], ns, C + 2_000)))).toEqual([]);
    const stopped = { ...a, status: { ...a.status!, state: S.TASK_STATE_SHUTDOWN, appliedAtUnixMs: C + 2_000 } };
    expect(summary(reconcileGlobal(serviceInput(service, [stopped, b], ns, C + 2_000)))).toEqual(["b-n1 → RUNNING"]);
  });
});
