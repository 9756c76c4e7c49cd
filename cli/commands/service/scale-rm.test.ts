import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { UpdateServiceResponse, type RemoveServiceRequest, type UpdateServiceRequest } from "../../../proto/gen/control.js";
import { ServiceSpec } from "../../../proto/gen/specs.js";
import { TaskState } from "../../../proto/gen/types.js";
import { grpcError, runCli, type FakeSwarmd } from "../../testing/fake-swarmd.js";
import { NODE1, scriptedTasks, service, serviceCluster, task } from "../../testing/service-fixtures.js";

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const WEB = service({ id: "web00000000000000000000000", name: "web", replicas: 1 });
const JOB = service({ id: "job00000000000000000000000", name: "batch", spec: { mode: { $case: "replicatedJob", replicatedJob: { maxConcurrent: 2, totalCompletions: 4 } } } });
const AGENT = service({ id: "agt00000000000000000000000", name: "agent", spec: { mode: { $case: "global", global: {} } } });

async function cluster(tasks = scriptedTasks([[]])): Promise<FakeSwarmd> {
  fake = await serviceCluster({
    services: [WEB, JOB, AGENT],
    tasks,
    control: { updateService: () => UpdateServiceResponse.fromPartial({}) },
  });
  return fake;
}

describe("service scale", () => {
  it("sets replicas (a job's completions) with the version read and says so; refuses global services with docker's message", async () => {
    const s = await cluster();
    const r = await runCli(["service", "scale", "-d", "web=5", "batch=8", "agent=2"], { host: s.host });
    expect(r).toEqual({
      code: 1,
      stdout: "web scaled to 5\nbatch scaled to 8\n",
      stderr: "Error: agent: scale can only be used with replicated or replicated-job mode\n",
    });
    expect(s.requests<UpdateServiceRequest>("updateService")).toEqual([
      { serviceId: WEB.id, serviceVersion: { index: 10 }, rollback: false, spec: ServiceSpec.fromPartial({ ...WEB.spec, mode: { $case: "replicated", replicated: { replicas: 5 } } }) },
      {
        serviceId: JOB.id,
        serviceVersion: { index: 10 },
        rollback: false,
        spec: ServiceSpec.fromPartial({ ...JOB.spec, mode: { $case: "replicatedJob", replicatedJob: { maxConcurrent: 2, totalCompletions: 8 } } }),
      },
    ]);
  });

  it("waits for each scaled service to converge unless -d", async () => {
    const s = await cluster(scriptedTasks([[task("w1", { serviceId: WEB.id, slot: 1, node: NODE1, state: TaskState.TASK_STATE_RUNNING })]]));
    const r = await runCli(["service", "scale", "web=1"], { host: s.host });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^web scaled to 1\noverall progress: 0 out of 1 tasks\n1\/1: running\noverall progress: 1 out of 1 tasks\n(verify: Waiting \d seconds to verify that tasks are stable...\n){5}verify: Service converged\n$/);
  });

  it("names the service whose progress fails", async () => {
    const s = await cluster(scriptedTasks([[task("w1", { serviceId: WEB.id, slot: 1, state: TaskState.TASK_STATE_PENDING, err: "no suitable node (1 node not available for new tasks)" })]]));
    const r = await runCli(["service", "scale", "web=1"], { host: s.host });
    expect(r.stderr).toBe(
      "Error: web: service web cannot converge: 1 task cannot run\nError: web: web.1: no suitable node (1 node not available for new tasks) (pending for 5s)\n",
    );
  });

  it("reports a missing service and a stale version per service", async () => {
    fake = await serviceCluster({
      services: [WEB],
      control: { updateService: () => Promise.reject(grpcError(grpc.status.FAILED_PRECONDITION, "update out of sequence: service web changed since version 10 was read")) },
    });
    expect(await runCli(["service", "scale", "-d", "nope=1", "web=2"], { host: fake.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: nope: service nope not found\nError: web: service web was changed by someone else since it was read (update out of sequence): run the command again\n",
    });
  });

  it.each([
    [["web"], "Error: invalid scale specifier 'web': must be SERVICE=REPLICAS\n"],
    [["web="], "Error: invalid scale specifier 'web=': must be SERVICE=REPLICAS\n"],
    [["=3"], "Error: invalid scale specifier '=3': must be SERVICE=REPLICAS\n"],
    [["web=2", "db=two"], "Error: db: invalid replicas value two: must be a non-negative integer\n"],
  ])("refuses %j before anything is sent", async (args, stderr) => {
    expect(await runCli(["service", "scale", ...args], { host: "unix:///nonexistent/swarmd.sock" })).toEqual({ code: 1, stdout: "", stderr });
  });
});

describe("service rm", () => {
  it("removes each service, printing its name, and reports every failure", async () => {
    fake = await serviceCluster({
      control: {
        removeService: ({ serviceId }) => {
          if (serviceId === "gone") throw grpcError(grpc.status.NOT_FOUND, "service gone not found");
          return {};
        },
      },
    });
    expect(await runCli(["service", "rm", "web", "gone", "db"], { host: fake.host })).toEqual({
      code: 1,
      stdout: "web\ndb\n",
      stderr: "Error: service gone not found\n",
    });
    expect(fake.requests<RemoveServiceRequest>("removeService")).toEqual([{ serviceId: "web" }, { serviceId: "gone" }, { serviceId: "db" }]);
  });
});
