import { describe, expect, it } from "vitest";
import { Cluster, Service } from "../../../proto/gen/objects.js";
import { PublishMode, TaskState as S } from "../../../proto/gen/types.js";
import { global, makeService, replicated, replicatedJob } from "../test-support.js";
import { CREATED_MESSAGE, newTask } from "./task-factory.js";

const port = { name: "", protocol: 0, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_HOST };

describe("newTask", () => {
  it("copies the service's template, version, annotations and endpoint spec, observed NEW, desired RUNNING", () => {
    const svc = makeService({ id: "s", mode: replicated(2), specVersion: 7 });
    svc.spec!.endpoint = { mode: 0, ports: [port] };
    const t = newTask(svc, { id: "t1", slot: 2, nowMs: 5 });
    expect(t).toMatchObject({
      id: "t1",
      serviceId: "s",
      slot: 2,
      nodeId: "",
      specVersion: { index: 7 },
      serviceAnnotations: { name: "s" },
      desiredState: S.TASK_STATE_RUNNING,
      status: { state: S.TASK_STATE_NEW, timestampUnixMs: 5, message: CREATED_MESSAGE },
      endpoint: { spec: { ports: [port] } },
    });
    expect(t.spec).toEqual(svc.spec!.task);
    expect(t.jobIteration).toBeUndefined();
    (svc.spec!.task!.runtime as { container: { image: string } }).container.image = "changed";
    expect(t.spec).not.toEqual(svc.spec!.task);
  });

  it("takes the allocated endpoint when the service has one", () => {
    const svc = Service.fromPartial({ ...makeService({ id: "s", mode: replicated(1) }), endpoint: { spec: { ports: [port] }, ports: [{ ...port, publishedPort: 30001 }] } });
    expect(newTask(svc, { id: "t", slot: 1, nowMs: 0 }).endpoint?.ports).toEqual([expect.objectContaining({ publishedPort: 30001 })]);
  });

  it("presets the node for global modes, gates when asked, and records the job iteration", () => {
    expect(newTask(makeService({ id: "g", mode: global }), { id: "t", slot: 0, nodeId: "n1", nowMs: 0, desiredState: S.TASK_STATE_READY })).toMatchObject({
      slot: 0,
      nodeId: "n1",
      desiredState: S.TASK_STATE_READY,
    });
    expect(newTask(makeService({ id: "j", mode: replicatedJob(1, 1), jobIteration: 4 }), { id: "t", slot: 1, nowMs: 0 }).jobIteration).toEqual({ index: 4 });
  });

  it("uses the cluster's default log driver when the spec names none", () => {
    const cluster = Cluster.fromPartial({ id: "c", spec: { taskDefaults: { logDriver: { name: "json-file", options: {} } } } });
    const svc = makeService({ id: "s", mode: replicated(1) });
    expect(newTask(svc, { id: "t", slot: 1, nowMs: 0, cluster }).logDriver?.name).toBe("json-file");
    svc.spec!.task!.logDriver = { name: "syslog", options: {} };
    expect(newTask(svc, { id: "t", slot: 1, nowMs: 0, cluster }).logDriver?.name).toBe("syslog");
  });
});
