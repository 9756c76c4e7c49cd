import { afterEach, describe, expect, it } from "vitest";
import type { GetServiceRequest, ListTasksRequest } from "../../../proto/gen/control.js";
import { RestartCondition, TaskState, UpdateState } from "../../../proto/gen/types.js";
import { runCli, type FakeSwarmd } from "../../testing/fake-swarmd.js";
import { NODE1, NODE2, scriptedTasks, service, serviceCluster, task } from "../../testing/service-fixtures.js";

const { TASK_STATE_NEW: NEW, TASK_STATE_PENDING: PENDING, TASK_STATE_ASSIGNED: ASSIGNED, TASK_STATE_PREPARING: PREPARING } = TaskState;
const { TASK_STATE_STARTING: STARTING, TASK_STATE_RUNNING: RUNNING, TASK_STATE_COMPLETE: COMPLETE, TASK_STATE_FAILED: FAILED } = TaskState;
const SHUTDOWN = TaskState.TASK_STATE_SHUTDOWN;
const ID = "svc1xxxxxxxxxxxxxxxxxxxxx";

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const verifyCountdown = [5, 4, 3, 2, 1].map((n) => `verify: Waiting ${n} seconds to verify that tasks are stable...\n`).join("");

describe("service create: progress until the service converges", () => {
  it("prints each change on its own line when stdout is not a terminal, then verifies for the monitor period", async () => {
    fake = await serviceCluster({
      services: [service({ replicas: 2 })],
      tasks: scriptedTasks([
        [],
        [task("t1", { slot: 1, state: PENDING }), task("t2", { slot: 2, node: NODE2, state: ASSIGNED })],
        [task("t1", { slot: 1, node: NODE1, state: RUNNING }), task("t2", { slot: 2, node: NODE2, state: PREPARING })],
        [task("t1", { slot: 1, node: NODE1, state: RUNNING }), task("t2", { slot: 2, node: NODE2, state: RUNNING })],
      ]),
    });
    const r = await runCli(["service", "create", "--replicas", "2", "nginx"], { host: fake.host });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        `${ID}\n` +
        "overall progress: 0 out of 2 tasks\n" +
        "1/2: pending\n" +
        "2/2: assigned\n" +
        "1/2: running\n" +
        "2/2: preparing\n" +
        "overall progress: 1 out of 2 tasks\n" +
        "2/2: running\n" +
        "overall progress: 2 out of 2 tasks\n" +
        verifyCountdown +
        "verify: Service converged\n",
    });
    expect(new Set(fake.requests<GetServiceRequest>("getService").map((q) => q.serviceId))).toEqual(new Set([ID]));
    expect(fake.requests<ListTasksRequest>("listTasks")[0]!.filters!.serviceIds).toEqual([ID]);
    // 4 polls to converge, then polls 200 ms apart until 5 s have passed since.
    expect(fake.requests("listTasks")).toHaveLength(4 + 24);
  });

  it("redraws the lines in place on a terminal, with docker's bars", async () => {
    fake = await serviceCluster({
      services: [service({ spec: { update: { parallelism: 1, delayMs: 0, failureAction: 0, monitorMs: 200, maxFailureRatio: 0, order: 0 } } })],
      tasks: scriptedTasks([[task("t1", { slot: 1, node: NODE1, state: RUNNING })]]),
    });
    const r = await runCli(["service", "create", "nginx"], { host: fake.host, terminalColumns: 120 });
    const up = (n: number) => `\x1b[${n}A\x1b[2K\r`;
    const down = (n: number) => `\r\x1b[${n}B`;
    expect(r.stdout).toBe(
      `${ID}\n` +
        `\n${up(1)}overall progress: 0 out of 1 tasks ${down(1)}` +
        `\n${up(1)}1/1:   ${down(1)}` +
        `${up(1)}1/1: running   [${"=".repeat(50)}>] ${down(1)}` +
        `${up(2)}overall progress: 1 out of 1 tasks ${down(2)}` +
        `\n${up(1)}verify: Waiting 1 seconds to verify that tasks are stable... ${down(1)}` +
        `${up(1)}verify: Service converged ${down(1)}`,
    );
    expect(r.code).toBe(0);
  });

  it("leaves the bars out on a narrow terminal and fills them by state", async () => {
    fake = await serviceCluster({
      services: [service({ spec: { update: { parallelism: 1, delayMs: 0, failureAction: 0, monitorMs: 200, maxFailureRatio: 0, order: 0 } } })],
      tasks: scriptedTasks([[task("t1", { slot: 1, state: NEW })], [task("t1", { slot: 1, node: NODE1, state: RUNNING })]]),
    });
    const narrow = await runCli(["service", "create", "nginx"], { host: fake.host, terminalColumns: 80 });
    // The state is padded to 9 columns ("preparing"), then docker's blank before the (empty) bar.
    expect(narrow.stdout).toContain(`1/1: new${" ".repeat(7)}\r`);
    expect(narrow.stdout).toContain(`1/1: running${" ".repeat(3)}\r`);
    await fake.close();
    fake = await serviceCluster({
      services: [service()],
      tasks: scriptedTasks([[task("t1", { slot: 1, state: PENDING })], [task("t1", { slot: 1, node: NODE1, state: RUNNING })]]),
    });
    const wide = await runCli(["service", "create", "nginx"], { host: fake.host, terminalColumns: 200 });
    // pending is state 3 of 9: 33 % → 16 of 50 columns.
    expect(wide.stdout).toContain(`1/1: pending   [${"=".repeat(16)}>${" ".repeat(34)}] \r`);
  });

  it("-q shows nothing but the id; -d does not wait", async () => {
    fake = await serviceCluster({ tasks: scriptedTasks([[task("t1", { slot: 1, node: NODE1, state: RUNNING })]]) });
    expect(await runCli(["service", "create", "-q", "nginx"], { host: fake.host })).toEqual({ code: 0, stdout: `${ID}\n`, stderr: "" });
    expect(fake.requests("listTasks").length).toBeGreaterThan(0);
    const polls = fake.requests("listTasks").length;
    expect(await runCli(["service", "create", "-d", "nginx"], { host: fake.host })).toEqual({ code: 0, stdout: `${ID}\n`, stderr: "" });
    expect(fake.requests("listTasks")).toHaveLength(polls);
  });

  it("follows restarts: a failed task's replacement in the same slot counts, the failure is shown meanwhile", async () => {
    const failed = task("t1", { slot: 1, node: NODE1, state: FAILED, desired: SHUTDOWN, err: "task: non-zero exit (1)" });
    fake = await serviceCluster({
      tasks: scriptedTasks([
        [task("t1", { slot: 1, node: NODE1, state: STARTING })],
        [failed, task("t2", { slot: 1, node: NODE2, state: NEW, desired: TaskState.TASK_STATE_READY, err: "" })],
        [failed, task("t2", { slot: 1, node: NODE2, state: RUNNING })],
      ]),
    });
    const r = await runCli(["service", "create", "nginx"], { host: fake.host });
    expect(r.stdout).toBe(
      `${ID}\n` + "overall progress: 0 out of 1 tasks\n" + "1/1: starting\n" + "1/1: new\n" + "1/1: running\n" + "overall progress: 1 out of 1 tasks\n" + verifyCountdown + "verify: Service converged\n",
    );
  });

  it("shows tasks that stopped running during verification and starts verifying again", async () => {
    const running = [task("t1", { slot: 1, node: NODE1, state: RUNNING })];
    const failing = [task("t1", { slot: 1, node: NODE1, state: FAILED, desired: SHUTDOWN, err: "task: non-zero exit (137)" })];
    fake = await serviceCluster({ tasks: scriptedTasks([running, running, failing, [...failing, task("t2", { slot: 1, node: NODE2, state: RUNNING })]]) });
    const r = await runCli(["service", "create", "nginx"], { host: fake.host });
    expect(r.stdout).toBe(
      `${ID}\n` +
        "overall progress: 0 out of 1 tasks\n" +
        "1/1: running\n" +
        "overall progress: 1 out of 1 tasks\n" +
        "verify: Waiting 5 seconds to verify that tasks are stable...\n" +
        "1/1: task: non-zero exit (137)\n" +
        "overall progress: 0 out of 1 tasks\n" +
        "verify: Detected task failure\n" +
        "1/1: running\n" +
        "overall progress: 1 out of 1 tasks\n" +
        verifyCountdown +
        "verify: Service converged\n",
    );
  });

  it("draws global services per node (short ids), counting only nodes that are up", async () => {
    fake = await serviceCluster({
      services: [service({ spec: { mode: { $case: "global", global: {} } } })],
      tasks: scriptedTasks([[], [task("g1", { node: NODE1, state: RUNNING }), task("g2", { node: NODE2, state: PREPARING })], [task("g1", { node: NODE1, state: RUNNING }), task("g2", { node: NODE2, state: RUNNING })]]),
    });
    const r = await runCli(["service", "create", "--mode", "global", "nginx"], { host: fake.host });
    expect(r.stdout).toBe(
      `${ID}\n` +
        "overall progress: waiting for new tasks\n" +
        "overall progress: 0 out of 2 tasks\n" +
        "n1aaaaaaaaaa: running\n" +
        "n2bbbbbbbbbb: preparing\n" +
        "overall progress: 1 out of 2 tasks\n" +
        "n2bbbbbbbbbb: running\n" +
        "overall progress: 2 out of 2 tasks\n" +
        verifyCountdown +
        "verify: Service converged\n",
    );
  });

  it("shows a replicated job's completions and active tasks, and ends when it is complete", async () => {
    const job = service({
      spec: { mode: { $case: "replicatedJob", replicatedJob: { maxConcurrent: 2, totalCompletions: 3 } } },
      jobStatus: { jobIteration: { index: 4 }, lastExecutionUnixMs: 0 },
    });
    const t = (id: string, slot: number, state: TaskState) =>
      task(id, { slot, node: NODE1, state, iteration: 4, desired: TaskState.TASK_STATE_COMPLETE });
    fake = await serviceCluster({
      services: [job],
      tasks: scriptedTasks([
        [t("j1", 1, RUNNING), t("j2", 2, RUNNING), task("old", { slot: 1, state: COMPLETE, iteration: 3 })],
        [t("j1", 1, COMPLETE), t("j2", 2, RUNNING), t("j3", 3, STARTING)],
        [t("j1", 1, COMPLETE), t("j2", 2, COMPLETE), t("j3", 3, COMPLETE)],
      ]),
    });
    const r = await runCli(["service", "create", "--mode", "replicated-job", "--replicas", "3", "--max-concurrent", "2", "busybox"], { host: fake.host });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        `${ID}\n` +
        "job progress: 0 out of 3 complete\n" +
        "active tasks: 0 out of 2 tasks\n" +
        "1/3: running\n" +
        "2/3: running\n" +
        "active tasks: 2 out of 2 tasks\n" +
        "1/3: complete\n" +
        "3/3: starting\n" +
        "job progress: 1 out of 3 complete\n" +
        "2/3: complete\n" +
        "3/3: complete\n" +
        "job progress: 3 out of 3 complete\n" +
        "active tasks: 0 out of 0 tasks\n" +
        "job complete\n",
    });
  });

  it("shows a global job per node", async () => {
    const job = service({ spec: { mode: { $case: "globalJob", globalJob: {} } }, jobStatus: { jobIteration: { index: 0 }, lastExecutionUnixMs: 0 } });
    const t = (id: string, node: typeof NODE1, state: TaskState) => task(id, { node, state, iteration: 0, desired: COMPLETE });
    fake = await serviceCluster({
      services: [job],
      tasks: scriptedTasks([[], [t("j1", NODE1, RUNNING), t("j2", NODE2, COMPLETE)], [t("j1", NODE1, COMPLETE), t("j2", NODE2, COMPLETE)]]),
    });
    const r = await runCli(["service", "create", "--mode", "global-job", "busybox"], { host: fake.host });
    expect(r.stdout).toBe(
      `${ID}\n` +
        "job progress: waiting for tasks\n" +
        "job progress: 0 out of 2 complete\n" +
        `${NODE1.id}: running\n` +
        `${NODE2.id}: complete\n` +
        "job progress: 1 out of 2 complete\n" +
        `${NODE1.id}: complete\n` +
        "job progress: 2 out of 2 complete\n" +
        "job complete\n",
    );
  });
});

describe("service create: progress fails when the service cannot converge", () => {
  it("names the task that stays pending with the scheduler's reason while the rest runs", async () => {
    const err = "no suitable node (insufficient memory on 3 nodes)";
    fake = await serviceCluster({
      services: [service({ replicas: 2 })],
      tasks: scriptedTasks([[task("t1", { slot: 1, node: NODE1, state: RUNNING }), task("t2", { slot: 2, state: PENDING, err })]]),
    });
    const r = await runCli(["service", "create", "--replicas", "2", "nginx"], { host: fake.host });
    expect(r).toEqual({
      code: 1,
      stdout: `${ID}\n` + "overall progress: 0 out of 2 tasks\n" + "1/2: running\n" + `2/2: ${err}\n` + "overall progress: 1 out of 2 tasks\n",
      stderr: `Error: service web cannot converge: 1 task cannot run\nError: web.2: ${err} (pending for 5s)\n`,
    });
    // 5 s of polls at 200 ms: the first sighting and 25 more.
    expect(fake.requests("listTasks")).toHaveLength(26);
  });

  it("does not give up on a pending task while another one still progresses", async () => {
    const err = "no suitable node (1 node not available for new tasks)";
    const pending = task("t2", { slot: 2, state: PENDING, err });
    const frames = Array.from({ length: 40 }, () => [task("t1", { slot: 1, node: NODE1, state: PREPARING }), pending]);
    fake = await serviceCluster({
      services: [service({ replicas: 2 })],
      tasks: scriptedTasks([...frames, [task("t1", { slot: 1, node: NODE1, state: RUNNING }), task("t2", { slot: 2, node: NODE2, state: RUNNING })]]),
    });
    const r = await runCli(["service", "create", "--replicas", "2", "nginx"], { host: fake.host });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`2/2: ${err}\n`);
    expect(r.stdout).toMatch(/verify: Service converged\n$/);
  });

  it("fails at once when the restart policy will not replace a failed task", async () => {
    fake = await serviceCluster({
      services: [service({ replicas: 2, spec: { task: { runtime: { $case: "container", container: { image: "nginx" } }, restart: { condition: RestartCondition.RESTART_CONDITION_NONE, maxAttempts: 0, windowMs: 0 } } } })],
      tasks: scriptedTasks([
        [task("t1", { slot: 1, node: NODE1, state: STARTING }), task("t2", { slot: 2, node: NODE2, state: RUNNING })],
        [task("t1", { slot: 1, node: NODE1, state: FAILED, desired: SHUTDOWN, err: "task: non-zero exit (1)" }), task("t2", { slot: 2, node: NODE2, state: RUNNING })],
      ]),
    });
    const r = await runCli(["service", "create", "--restart-condition", "none", "--replicas", "2", "nginx"], { host: fake.host });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "Error: service web cannot converge: 1 task cannot run\n" +
        'Error: web.1: failed: task: non-zero exit (1); the restart policy will not replace it (condition "none")\n',
    );
    expect(fake.requests("listTasks")).toHaveLength(2);
  });

  it("fails once the restarts allowed are used up", async () => {
    const policy = { condition: RestartCondition.RESTART_CONDITION_ANY, maxAttempts: 1, windowMs: 0 };
    fake = await serviceCluster({
      services: [service({ spec: { task: { runtime: { $case: "container", container: { image: "nginx" } }, restart: policy } } })],
      tasks: scriptedTasks([
        [
          task("t1", { slot: 1, node: NODE1, state: FAILED, desired: SHUTDOWN, err: "task: non-zero exit (2)", created: 1 }),
          task("t2", { slot: 1, node: NODE1, state: FAILED, desired: SHUTDOWN, err: "task: non-zero exit (2)", created: 2 }),
        ],
      ]),
    });
    const r = await runCli(["service", "create", "nginx"], { host: fake.host });
    expect(r.stderr).toBe(
      "Error: service web cannot converge: 1 task cannot run\n" +
        "Error: web.1: failed: task: non-zero exit (2); the restart policy will not replace it (1 restarts made, the maximum)\n",
    );
  });

  it("fails when a stopped task is not replaced within its restart delay and the stall time", async () => {
    fake = await serviceCluster({
      tasks: scriptedTasks([[task("t1", { slot: 1, node: NODE1, state: TaskState.TASK_STATE_REJECTED, desired: SHUTDOWN, err: "No such image: nginx:nope" })]]),
    });
    const r = await runCli(["service", "create", "nginx:nope"], { host: fake.host });
    expect(r.stderr).toBe("Error: service web cannot converge: 1 task cannot run\nError: web.1: rejected: No such image: nginx:nope; not replaced after 10s\n");
    expect(fake.requests("listTasks")).toHaveLength(51);
  });

  it("reports a paused update with its message", async () => {
    fake = await serviceCluster({
      services: [service({ updateStatus: { state: UpdateState.UPDATE_STATE_PAUSED, startedAtUnixMs: 0, completedAtUnixMs: 0, message: "update paused due to failure or early termination of task t9" } })],
    });
    const r = await runCli(["service", "create", "nginx"], { host: fake.host });
    expect(r).toEqual({ code: 1, stdout: `${ID}\n`, stderr: "Error: service update paused: update paused due to failure or early termination of task t9\n" });
  });
});
