import { afterEach, describe, expect, it } from "vitest";
import { ListServicesRequest, ListTasksResponse, type ListTasksRequest } from "../../../proto/gen/control.js";
import { PortConfig, PortProtocol, PublishMode, TaskState } from "../../../proto/gen/types.js";
import { runCli, type FakeSwarmd } from "../../testing/fake-swarmd.js";
import { NODE1, NODE2, service, serviceCluster, task } from "../../testing/service-fixtures.js";
import { displayImage, portsText } from "./service-views.js";

const { TASK_STATE_RUNNING: RUNNING, TASK_STATE_COMPLETE: COMPLETE, TASK_STATE_SHUTDOWN: SHUTDOWN } = TaskState;

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const ingress = (publishedPort: number, targetPort: number, protocol = PortProtocol.PORT_PROTOCOL_TCP) =>
  PortConfig.fromPartial({ publishedPort, targetPort, protocol, publishMode: PublishMode.PUBLISH_MODE_INGRESS });

const WEB = service({ id: "web00000000000000000000000", name: "web10", replicas: 3, endpoint: { spec: undefined, ports: [ingress(8080, 80)], virtualIps: [] } });
const GLOBAL = service({ id: "glo00000000000000000000000", name: "web2", spec: { mode: { $case: "global", global: {} } } });
const JOB = service({
  id: "job00000000000000000000000",
  name: "batch",
  spec: {
    task: { runtime: { $case: "container", container: { image: "docker.io/library/busybox:1.36@sha256:0123456789abcdef0123456789abcdef" } } },
    mode: { $case: "replicatedJob", replicatedJob: { maxConcurrent: 2, totalCompletions: 5 } },
  },
  jobStatus: { jobIteration: { index: 1 }, lastExecutionUnixMs: 0 },
});
const CAPPED = service({
  id: "cap00000000000000000000000",
  name: "capped",
  replicas: 4,
  spec: { task: { runtime: { $case: "container", container: { image: "redis@sha256:0123456789abcdef0123456789abcdef" } }, placement: { constraints: [], preferences: [], platforms: [], maxReplicas: 1 } } },
});

const TASKS = [
  task("w1", { serviceId: WEB.id, slot: 1, node: NODE1, state: RUNNING }),
  task("w2", { serviceId: WEB.id, slot: 2, node: NODE2, state: RUNNING }),
  task("w3", { serviceId: WEB.id, slot: 3, node: NODE2, state: TaskState.TASK_STATE_STARTING }),
  task("w0", { serviceId: WEB.id, slot: 3, node: NODE2, state: SHUTDOWN, desired: SHUTDOWN }),
  task("g1", { serviceId: GLOBAL.id, node: NODE1, state: RUNNING }),
  task("g2", { serviceId: GLOBAL.id, node: NODE2, state: TaskState.TASK_STATE_PREPARING }),
  task("j1", { serviceId: JOB.id, slot: 1, state: COMPLETE, iteration: 1, desired: COMPLETE }),
  task("j2", { serviceId: JOB.id, slot: 2, state: COMPLETE, iteration: 1, desired: COMPLETE }),
  task("j3", { serviceId: JOB.id, slot: 3, state: COMPLETE, iteration: 1, desired: COMPLETE }),
  task("j4", { serviceId: JOB.id, slot: 4, state: RUNNING, iteration: 1, desired: COMPLETE }),
  task("j0", { serviceId: JOB.id, slot: 1, state: COMPLETE, iteration: 0, desired: COMPLETE }),
  task("c1", { serviceId: CAPPED.id, slot: 1, node: NODE1, state: RUNNING }),
];

async function cluster(): Promise<FakeSwarmd> {
  fake = await serviceCluster({ services: [WEB, GLOBAL, JOB, CAPPED], tasks: () => ListTasksResponse.fromPartial({ tasks: TASKS }) });
  return fake;
}

describe("service ls", () => {
  it("prints docker's table sorted by name, with running/desired tasks per mode", async () => {
    const s = await cluster();
    expect(await runCli(["service", "ls"], { host: s.host })).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "ID             NAME      MODE             REPLICAS               IMAGE                                           PORTS\n" +
        "job000000000   batch     replicated job   1/2 (3/5 completed)    busybox:1.36                                    \n" +
        "cap000000000   capped    replicated       1/4 (max 1 per node)   redis@sha256:0123456789abcdef0123456789abcdef   \n" +
        "glo000000000   web2      global           1/2                    nginx:1.27                                      \n" +
        "web000000000   web10     replicated       2/3                    nginx:1.27                                      *:8080->80/tcp\n",
    });
    expect(s.requests<ListTasksRequest>("listTasks")[0]!.filters!.serviceIds).toEqual([JOB.id, CAPPED.id, GLOBAL.id, WEB.id]);
  });

  it("-q prints the full ids; --format templates and json use docker's fields", async () => {
    const s = await cluster();
    expect((await runCli(["service", "ls", "-q"], { host: s.host })).stdout).toBe(`${JOB.id}\n${CAPPED.id}\n${GLOBAL.id}\n${WEB.id}\n`);
    expect(s.requests("listTasks")).toEqual([]);
    expect((await runCli(["service", "ls", "--format", "{{.Name}}: {{.Replicas}}"], { host: s.host })).stdout).toBe(
      "batch: 1/2 (3/5 completed)\ncapped: 1/4 (max 1 per node)\nweb2: 1/2\nweb10: 2/3\n",
    );
    const json = await runCli(["service", "ls", "--format", "json", "-f", "mode=replicated"], { host: s.host });
    expect(json.stdout).toBe(
      '{"ID":"cap000000000","Image":"redis@sha256:0123456789abcdef0123456789abcdef","Mode":"replicated","Name":"capped","Ports":"","Replicas":"1/4 (max 1 per node)"}\n' +
        '{"ID":"web000000000","Image":"nginx:1.27","Mode":"replicated","Name":"web10","Ports":"*:8080->80/tcp","Replicas":"2/3"}\n',
    );
  });

  it("passes id, name and label filters to ListServices and filters modes itself", async () => {
    const s = await cluster();
    const r = await runCli(["service", "ls", "-f", "id=web", "--filter", "name=we", "-f", "label=tier=front", "-f", "mode=global"], { host: s.host });
    expect(r.stdout.split("\n").slice(1)).toEqual(["glo000000000   web2      global    1/2        nginx:1.27   ", ""]);
    expect(s.requests("listServices")).toEqual([ListServicesRequest.fromPartial({ filters: { idPrefixes: ["web"], namePrefixes: ["we"], labels: ["tier=front"] } })]);
  });

  it("an empty list is the header alone", async () => {
    fake = await serviceCluster({ services: [] });
    expect((await runCli(["service", "ls"], { host: fake.host })).stdout).toBe("ID        NAME      MODE      REPLICAS   IMAGE     PORTS\n");
    expect(fake.requests("listTasks")).toEqual([]);
  });

  it.each([
    [["-f", "mode=daemon"], 'Error: invalid argument "mode=daemon" for "--filter" flag: mode must be one of replicated, global, replicated-job, global-job\n'],
    [["-f", "colour=red"], 'Error: invalid argument "colour=red" for "--filter" flag: unknown filter "colour": must be one of id, label, mode, name\n'],
    [["-f", "name"], 'Error: invalid argument "name" for "--filter" flag: must be key=value\n'],
  ])("refuses %j", async (args, stderr) => {
    expect(await runCli(["service", "ls", ...args], { host: "unix:///nonexistent/swarmd.sock" })).toEqual({ code: 1, stdout: "", stderr });
  });
});

describe("service ls columns", () => {
  it("folds consecutive ingress ports into ranges like docker, leaving host-mode ports out", () => {
    const host = PortConfig.fromPartial({ publishedPort: 9000, targetPort: 9000, publishMode: PublishMode.PUBLISH_MODE_HOST });
    expect(portsText([ingress(81, 81), ingress(80, 80), ingress(82, 80), host, ingress(53, 53, PortProtocol.PORT_PROTOCOL_UDP), ingress(90, 91)])).toBe(
      "*:80-81->80-81/tcp, *:82->80/tcp, *:90->91/tcp, *:53->53/udp",
    );
    expect(portsText([ingress(80, 80), ingress(81, 80)])).toBe("*:80-81->80/tcp");
    expect(portsText([])).toBe("");
  });

  it.each([
    ["nginx", "nginx"],
    ["nginx:1.27", "nginx:1.27"],
    ["nginx:1.27@sha256:abc", "nginx:1.27"],
    ["nginx@sha256:abc", "nginx@sha256:abc"],
    ["docker.io/library/nginx:1", "nginx:1"],
    ["docker.io/me/app:2", "me/app:2"],
    ["localhost:5000/app", "localhost:5000/app"],
    ["localhost:5000/app:3@sha256:abc", "localhost:5000/app:3"],
  ])("shows image %s as %s", (image, shown) => {
    expect(displayImage(image)).toBe(shown);
  });
});
