import { afterEach, describe, expect, it } from "vitest";
import { UpdateServiceResponse } from "../../../proto/gen/control.js";
import { Service } from "../../../proto/gen/objects.js";
import { RestartCondition, TaskState, UpdateFailureAction, UpdateState, type UpdateStatus } from "../../../proto/gen/types.js";
import { runCli, type FakeSwarmd } from "../../testing/fake-swarmd.js";
import { NODE1, NODE2, NOW, scriptedServices, scriptedTasks, service, serviceCluster, task } from "../../testing/service-fixtures.js";

const { TASK_STATE_NEW: NEW, TASK_STATE_PREPARING: PREPARING, TASK_STATE_STARTING: STARTING, TASK_STATE_RUNNING: RUNNING } = TaskState;
const { TASK_STATE_SHUTDOWN: SHUTDOWN, TASK_STATE_FAILED: FAILED } = TaskState;

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const verifyCountdown = [5, 4, 3, 2, 1].map((n) => `verify: Waiting ${n} seconds to verify that tasks are stable...\n`).join("");
const status = (state: UpdateState, message: string): UpdateStatus => ({ state, startedAtUnixMs: NOW, completedAtUnixMs: 0, message });
const container = (image: string) => ({ runtime: { $case: "container" as const, container: { image } } });
const never = { condition: RestartCondition.RESTART_CONDITION_NONE, maxAttempts: 0, windowMs: 0 };

/** `web` at spec version 0 running nginx:1.27 (what `update` reads). */
const BEFORE = service({ spec: { task: container("nginx:1.27") } });
/** `web` after `update --image nginx:1.28`: spec version 10, the old spec kept as the previous one. */
const after = (updateStatus?: UpdateStatus, fields: { failureAction?: UpdateFailureAction } = {}) =>
  service({
    specVersion: { index: 10 },
    previousSpec: BEFORE.spec,
    updateStatus,
    spec: {
      task: { ...container("nginx:1.28"), restart: never },
      update: { parallelism: 1, delayMs: 0, failureAction: fields.failureAction ?? UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE, maxFailureRatio: 0, order: 0 },
    },
  });
/** The same service rolled back: the specs (and their versions) swapped. */
const rolledBack = (updateStatus: UpdateStatus) =>
  Service.fromPartial({ ...after(), spec: BEFORE.spec, specVersion: { index: 0 }, previousSpec: after().spec, previousSpecVersion: { index: 10 }, updateStatus });

/** The task that ran before the update, and the ones made from the new spec. */
const old = (state: TaskState, desired: TaskState = RUNNING) => task("t1", { slot: 1, node: NODE1, state, desired, image: "nginx:1.27" });
const fresh = (id: string, state: TaskState, fields: { desired?: TaskState; err?: string } = {}) =>
  task(id, { slot: 1, node: NODE2, state, image: "nginx:1.28", specVersion: 10, ...fields });

async function cluster(services: Service[], frames: ReturnType<typeof task>[][]): Promise<FakeSwarmd> {
  fake = await serviceCluster({
    services: [BEFORE],
    tasks: scriptedTasks(frames),
    control: { getService: scriptedServices(services), updateService: () => UpdateServiceResponse.fromPartial({}) },
  });
  return fake;
}

describe("service update: progress", () => {
  it("follows only the tasks of the new spec: the old one still running does not count", async () => {
    const updating = after(status(UpdateState.UPDATE_STATE_UPDATING, "update in progress"));
    const s = await cluster(
      [BEFORE, updating, updating, updating, after(status(UpdateState.UPDATE_STATE_COMPLETED, "update completed"))],
      [[old(RUNNING)], [old(SHUTDOWN, SHUTDOWN), fresh("t2", PREPARING)], [old(SHUTDOWN, SHUTDOWN), fresh("t2", RUNNING)]],
    );
    expect(await runCli(["service", "update", "--image", "nginx:1.28", "web"], { host: s.host })).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "web\n" +
        "overall progress: 0 out of 1 tasks\n" +
        "1/1: preparing\n" +
        "1/1: running\n" +
        "overall progress: 1 out of 1 tasks\n" +
        verifyCountdown +
        "verify: Service converged\n",
    });
  });

  it("counts tasks an update does not replace (a change of the update config only), though made from an older spec version", async () => {
    const unchanged = service({ specVersion: { index: 10 }, spec: { task: container("nginx:1.27") } });
    const s = await cluster([BEFORE, unchanged], [[old(RUNNING)]]);
    const r = await runCli(["service", "update", "--update-parallelism", "2", "web"], { host: s.host });
    expect(r).toEqual({ code: 0, stderr: "", stdout: "web\noverall progress: 0 out of 1 tasks\n1/1: running\noverall progress: 1 out of 1 tasks\n" + verifyCountdown + "verify: Service converged\n" });
  });

  it("ends with exit 1 and the reason when the update pauses, without judging the failed task itself meanwhile", async () => {
    const updating = after(status(UpdateState.UPDATE_STATE_UPDATING, "update in progress"));
    const reason = "update paused due to failure or early termination of task t2: failed: task: non-zero exit (1)";
    const failed = fresh("t2", FAILED, { desired: SHUTDOWN, err: "task: non-zero exit (1)" });
    const s = await cluster(
      [BEFORE, updating, updating, updating, after(status(UpdateState.UPDATE_STATE_PAUSED, reason))],
      [[old(SHUTDOWN, SHUTDOWN), fresh("t2", STARTING)], [old(SHUTDOWN, SHUTDOWN), failed]],
    );
    expect(await runCli(["service", "update", "--image", "nginx:1.28", "web"], { host: s.host })).toEqual({
      code: 1,
      stdout: "web\noverall progress: 0 out of 1 tasks\n1/1: starting\n1/1: task: non-zero exit (1)\n",
      stderr: `Error: service update paused: ${reason}\n`,
    });
  });

  it("announces a rollback, follows the previous spec converging, then fails with the reason", async () => {
    const reason = "update rolled back due to failure or early termination of task t2: failed: task: non-zero exit (1)";
    const rollback = UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK;
    const failed = fresh("t2", FAILED, { desired: SHUTDOWN, err: "task: non-zero exit (1)" });
    const stopped = old(SHUTDOWN, SHUTDOWN);
    const s = await cluster(
      [
        BEFORE,
        after(status(UpdateState.UPDATE_STATE_UPDATING, "update in progress"), { failureAction: rollback }),
        rolledBack(status(UpdateState.UPDATE_STATE_ROLLBACK_STARTED, reason)),
        rolledBack(status(UpdateState.UPDATE_STATE_ROLLBACK_STARTED, reason)),
        rolledBack(status(UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED, "rollback completed")),
      ],
      [
        [stopped, fresh("t2", STARTING)],
        [stopped, failed, task("t3", { slot: 1, node: NODE1, state: NEW, image: "nginx:1.27" })],
        [stopped, failed, task("t3", { slot: 1, node: NODE1, state: RUNNING, image: "nginx:1.27" })],
      ],
    );
    expect(await runCli(["service", "update", "--image", "nginx:1.28", "web"], { host: s.host })).toEqual({
      code: 1,
      stdout:
        "web\n" +
        "overall progress: 0 out of 1 tasks\n" +
        "1/1: starting\n" +
        `rollback: ${reason}\n` +
        "1/1: new\n" +
        "overall progress: rolling back update: 0 out of 1 tasks\n" +
        "1/1: running\n" +
        "overall progress: rolling back update: 1 out of 1 tasks\n" +
        verifyCountdown +
        "verify: Service converged\n",
      stderr: `Error: service update rolled back: ${reason}\n`,
    });
  });

  it("-d prints the service and does not wait; -q waits without drawing", async () => {
    const s = await cluster([BEFORE, after(status(UpdateState.UPDATE_STATE_UPDATING, "update in progress"))], [[fresh("t2", RUNNING)]]);
    expect(await runCli(["service", "update", "-d", "--image", "nginx:1.28", "web"], { host: s.host })).toEqual({ code: 0, stdout: "web\n", stderr: "" });
    expect(s.requests("listTasks")).toEqual([]);
    expect(await runCli(["service", "update", "-q", "--image", "nginx:1.28", "web"], { host: s.host })).toEqual({ code: 0, stdout: "web\n", stderr: "" });
    expect(s.requests("listTasks").length).toBeGreaterThan(0);
  });
});

describe("service rollback: progress", () => {
  const manual = status(UpdateState.UPDATE_STATE_ROLLBACK_STARTED, "manually requested rollback");

  it("shows the manual rollback converging on the previous spec, as docker does", async () => {
    const s = await cluster([after(), rolledBack(manual)], [[old(RUNNING)]]);
    expect(await runCli(["service", "rollback", "web"], { host: s.host })).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "web\n" +
        "rollback: manually requested rollback\n" +
        "overall progress: rolling back update: 0 out of 1 tasks\n" +
        "1/1: running\n" +
        "overall progress: rolling back update: 1 out of 1 tasks\n" +
        verifyCountdown +
        "verify: Service converged\n",
    });
  });

  it("prints the completion message after converging when the rollback completed first", async () => {
    const completed = rolledBack(status(UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED, "rollback completed"));
    const s = await cluster([after(), rolledBack(manual), completed], [[old(PREPARING)], [old(RUNNING)]]);
    const r = await runCli(["service", "update", "--rollback", "web"], { host: s.host });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/verify: Service converged\nrollback: rollback completed\n$/);
  });

  it("ends with exit 1 and the reason when the rollback pauses", async () => {
    const reason = "rollback paused due to failure or early termination of task t3: rejected: No such image: nginx:1.27";
    const s = await cluster([after(), rolledBack(manual), rolledBack(status(UpdateState.UPDATE_STATE_ROLLBACK_PAUSED, reason))], [[old(NEW)]]);
    expect(await runCli(["service", "rollback", "web"], { host: s.host })).toEqual({
      code: 1,
      stdout: "web\nrollback: manually requested rollback\noverall progress: rolling back update: 0 out of 1 tasks\n1/1: new\n",
      stderr: `Error: service rollback paused: ${reason}\n`,
    });
  });
});
