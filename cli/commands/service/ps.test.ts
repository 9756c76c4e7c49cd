import { afterEach, describe, expect, it } from "vitest";
import { ListTasksRequest, ListTasksResponse } from "../../../proto/gen/control.js";
import { InfoResponse } from "../../../proto/gen/daemon.js";
import { Node, Task } from "../../../proto/gen/objects.js";
import { PortProtocol, PublishMode, TaskState } from "../../../proto/gen/types.js";
import { runCli, type FakeSwarmd } from "../../testing/fake-swarmd.js";
import { NODE1, NODE2, NOW, service, serviceCluster, task } from "../../testing/service-fixtures.js";

const { TASK_STATE_RUNNING: RUNNING, TASK_STATE_SHUTDOWN: SHUTDOWN, TASK_STATE_FAILED: FAILED, TASK_STATE_PENDING: PENDING } = TaskState;
const MIN = 60_000;

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const WEB = service({ id: "web00000000000000000000000", name: "web", replicas: 10 });
const AGENT = service({ id: "agt00000000000000000000000", name: "agent", spec: { mode: { $case: "global", global: {} } } });
const NAMED = Node.fromPartial({ ...NODE2, spec: { annotations: { name: "edge" } } });

const withPorts = (t: Task) =>
  Task.fromPartial({
    ...t,
    status: { ...t.status, portStatus: { ports: [{ publishedPort: 30001, targetPort: 80, protocol: PortProtocol.PORT_PROTOCOL_TCP, publishMode: PublishMode.PUBLISH_MODE_HOST }] } },
  });

const TASKS = [
  task("old1aaaaaaaaaaaaaaaaaaaaa", { serviceId: WEB.id, slot: 1, node: NODE1, state: FAILED, desired: SHUTDOWN, err: "task: non-zero exit (1)", created: NOW - 10 * MIN, at: NOW - 9 * MIN }),
  task("web1aaaaaaaaaaaaaaaaaaaaa", { serviceId: WEB.id, slot: 1, node: NODE1, state: RUNNING, created: NOW - 5 * MIN, at: NOW - 2 * MIN }),
  task("older1aaaaaaaaaaaaaaaaaaa", { serviceId: WEB.id, slot: 1, node: NODE2, state: SHUTDOWN, desired: SHUTDOWN, created: NOW - 20 * MIN, at: NOW - 19 * MIN }),
  withPorts(task("web10aaaaaaaaaaaaaaaaaaaa", { serviceId: WEB.id, slot: 10, node: NAMED, state: RUNNING, created: NOW - MIN, at: NOW - 30_000 })),
  task("web2aaaaaaaaaaaaaaaaaaaaa", { serviceId: WEB.id, slot: 2, state: PENDING, err: "no suitable node (insufficient memory on 3 nodes)", created: NOW - MIN, at: NOW - 500 }),
  task("agt1aaaaaaaaaaaaaaaaaaaaa", { serviceId: AGENT.id, node: NODE1, state: RUNNING, created: NOW - 3 * 3_600_000, at: NOW - 3 * 3_600_000 }),
];

async function cluster(): Promise<FakeSwarmd> {
  fake = await serviceCluster({
    services: [WEB, AGENT],
    nodes: [NODE1, NAMED],
    tasks: (req) => ListTasksResponse.fromPartial({ tasks: TASKS.filter((t) => req.filters!.serviceIds.includes(t.serviceId)) }),
    daemon: { info: () => InfoResponse.fromPartial({ nodeId: NODE1.id }) },
  });
  return fake;
}

describe("service ps", () => {
  it("prints docker's table: names by slot or node, history indented under the newest task, nodes by name", async () => {
    const s = await cluster();
    const r = await runCli(["service", "ps", "web", "agent"], { host: s.host });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "ID             NAME                              IMAGE        NODE      DESIRED STATE   CURRENT STATE                    ERROR                              PORTS\n" +
        "agt1aaaaaaaa   agent.n1aaaaaaaaaaaaaaaaaaaaaaa   nginx:1.27   node1     Running         Running 3 hours ago                                                 \n" +
        "web1aaaaaaaa   web.1                             nginx:1.27   node1     Running         Running 2 minutes ago                                               \n" +
        'old1aaaaaaaa    \\_ web.1                         nginx:1.27   node1     Shutdown        Failed 9 minutes ago             "task: non-zero exit (1)"          \n' +
        "older1aaaaaa    \\_ web.1                         nginx:1.27   edge      Shutdown        Shutdown 19 minutes ago                                             \n" +
        'web2aaaaaaaa   web.2                             nginx:1.27             Running         Pending less than a second ago   "no suitable node (insufficien…"   \n' +
        "web10aaaaaaa   web.10                            nginx:1.27   edge      Running         Running 30 seconds ago                                              *:30001->80/tcp\n",
    });
    expect(s.requests("listTasks")).toEqual([ListTasksRequest.fromPartial({ filters: { serviceIds: [WEB.id, AGENT.id] } })]);
  });

  it("--no-trunc shows full ids, images and errors; -q the full ids in the same order", async () => {
    const s = await cluster();
    const r = await runCli(["service", "ps", "--no-trunc", "--format", "{{.ID}} {{.Image}} {{.Error}}", "web"], { host: s.host });
    expect(r.stdout.split("\n")[3]).toBe('web2aaaaaaaaaaaaaaaaaaaaa nginx:1.27@sha256:0123456789abcdef0123456789abcdef "no suitable node (insufficient memory on 3 nodes)"');
    expect((await runCli(["service", "ps", "-q", "web"], { host: s.host })).stdout).toBe(
      ["web1aaaaaaaaaaaaaaaaaaaaa", "old1aaaaaaaaaaaaaaaaaaaaa", "older1aaaaaaaaaaaaaaaaaaa", "web2aaaaaaaaaaaaaaaaaaaaa", "web10aaaaaaaaaaaaaaaaaaaa", ""].join("\n"),
    );
  });

  it("does not indent history outside tables; json uses docker's field names", async () => {
    const s = await cluster();
    expect((await runCli(["service", "ps", "--format", "{{.Name}} {{.DesiredState}}", "web"], { host: s.host })).stdout).toBe(
      "web.1 Running\nweb.1 Shutdown\nweb.1 Shutdown\nweb.2 Running\nweb.10 Running\n",
    );
    const json = await runCli(["service", "ps", "--format", "json", "agent"], { host: s.host });
    expect(json.stdout).toBe(
      '{"CurrentState":"Running 3 hours ago","DesiredState":"Running","Error":"","ID":"agt1aaaaaaaa","Image":"nginx:1.27","Name":"agent.n1aaaaaaaaaaaaaaaaaaaaaaa","Node":"node1","Ports":""}\n',
    );
  });

  it("--no-resolve shows ids instead of names", async () => {
    const s = await cluster();
    expect((await runCli(["service", "ps", "--no-resolve", "--format", "{{.Name}}@{{.Node}}", "agent"], { host: s.host })).stdout).toBe(
      `${AGENT.id}.${NODE1.id}@${NODE1.id}\n`,
    );
  });

  it("passes filters to ListTasks, `self` as this node's id", async () => {
    const s = await cluster();
    await runCli(["service", "ps", "-f", "desired-state=running", "-f", "node=self", "--filter", "node=edge", "-f", "name=web.1", "-f", "id=web1", "web"], {
      host: s.host,
    });
    expect(s.requests("listTasks")).toEqual([
      ListTasksRequest.fromPartial({
        filters: { serviceIds: [WEB.id], desiredStates: [RUNNING], nodeIds: [NODE1.id, "edge"], namePrefixes: ["web.1"], idPrefixes: ["web1"] },
      }),
    ]);
  });

  it("prints the services it found, then one error per missing service (exit 1)", async () => {
    const s = await cluster();
    const r = await runCli(["service", "ps", "--format", "{{.Name}}", "nope", "agent", "gone"], { host: s.host });
    expect(r).toEqual({ code: 1, stdout: "agent.n1aaaaaaaaaaaaaaaaaaaaaaa\n", stderr: "Error: no such service: nope\nError: no such service: gone\n" });
    expect(await runCli(["service", "ps", "nope"], { host: s.host })).toEqual({ code: 1, stdout: "", stderr: "Error: no such service: nope\n" });
  });

  it.each([
    [["-f", "desired-state=sleeping"], 'Error: invalid argument "sleeping" for "--filter" flag: must be one of new, pending, assigned, accepted, preparing, ready, starting, running, complete, shutdown, failed, rejected, remove, orphaned\n'],
    [["-f", "colour=red"], 'Error: invalid argument "colour=red" for "--filter" flag: unknown filter "colour": must be one of desired-state, id, name, node\n'],
    [["-f", "node"], 'Error: invalid argument "node" for "--filter" flag: must be key=value\n'],
  ])("refuses %j before calling swarmd", async (args, stderr) => {
    expect(await runCli(["service", "ps", ...args, "web"], { host: "unix:///nonexistent/swarmd.sock" })).toEqual({ code: 1, stdout: "", stderr });
  });
});
