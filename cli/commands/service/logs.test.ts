import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { GetTaskResponse } from "../../../proto/gen/control.js";
import { LogStream, SubscribeLogsMessage, SubscribeLogsRequest } from "../../../proto/gen/logs.js";
import { TaskState } from "../../../proto/gen/types.js";
import { grpcError, runCli, type FakeSwarmd } from "../../testing/fake-swarmd.js";
import { NODE1, NODE2, NOW, service, serviceCluster, task } from "../../testing/service-fixtures.js";

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const WEB = service({ id: "web00000000000000000000000", name: "web", replicas: 10 });
const T1 = task("t1aaaaaaaaaaaaaaaaaaaaaaa", { serviceId: WEB.id, slot: 1, node: NODE1, state: TaskState.TASK_STATE_RUNNING });
const T10 = task("t10bbbbbbbbbbbbbbbbbbbbbb", { serviceId: WEB.id, slot: 10, node: NODE2, state: TaskState.TASK_STATE_RUNNING });
const TTY = service({ id: "tty00000000000000000000000", name: "shell", spec: { task: { runtime: { $case: "container", container: { image: "alpine", tty: true } } } } });

const line = (t: typeof T1, data: string, stream = LogStream.LOG_STREAM_STDOUT, timestamp = "2025-01-01T00:00:00.000000001Z") => ({
  context: { serviceId: t.serviceId, nodeId: t.nodeId, taskId: t.id },
  timestamp,
  stream,
  data: Buffer.from(data),
});

const BATCHES = [
  SubscribeLogsMessage.fromPartial({ messages: [line(T1, "hello\n"), line(T10, "world\n")], warnings: [] }),
  SubscribeLogsMessage.fromPartial({
    messages: [line(T1, "oops\n", LogStream.LOG_STREAM_STDERR, "2025-01-01T00:00:01.5Z"), line(T10, "no newline")],
    warnings: [`node ${NODE2.id} sent no logs for 5s: its logs may be incomplete`],
  }),
];

async function cluster(subscribe: (req: SubscribeLogsRequest) => Iterable<SubscribeLogsMessage> = () => BATCHES): Promise<FakeSwarmd> {
  fake = await serviceCluster({
    services: [WEB, TTY],
    control: {
      getTask: ({ taskId }) => {
        const t = [T1, T10].find((x) => x.id === taskId || x.id.startsWith(taskId));
        if (!t) throw grpcError(grpc.status.NOT_FOUND, `task ${taskId} not found`);
        return GetTaskResponse.fromPartial({ task: t });
      },
    },
    logs: { subscribeLogs: subscribe },
  });
  return fake;
}

describe("service logs", () => {
  it("prints each line after its task and node, aligned for the replica count; stderr lines and warnings on stderr", async () => {
    const s = await cluster();
    expect(await runCli(["service", "logs", "web"], { host: s.host })).toEqual({
      code: 0,
      stdout: "web.1.t1aaaaaaaaaa@node1     | hello\nweb.10.t10bbbbbbbbb@node2    | world\nweb.10.t10bbbbbbbbb@node2    | no newline\n",
      stderr: `warning: node ${NODE2.id} sent no logs for 5s: its logs may be incomplete\nweb.1.t1aaaaaaaaaa@node1     | oops\n`,
    });
    expect(s.requests("subscribeLogs")).toEqual([
      SubscribeLogsRequest.fromPartial({ selector: { serviceIds: [WEB.id] }, options: { follow: false, tail: -1, sinceUnixMs: 0 } }),
    ]);
    // Names are looked up once per task, node list once.
    expect(s.requests("getTask")).toHaveLength(2);
    expect(s.requests("listNodes")).toHaveLength(1);
  });

  it("passes --follow, --tail and --since; -t puts the timestamp first; --no-task-ids and --no-trunc change the name", async () => {
    const s = await cluster();
    const r = await runCli(["service", "logs", "-f", "--tail", "5", "--since", "10m", "-t", "--no-task-ids", "web"], { host: s.host });
    expect(r.stdout.split("\n")[0]).toBe("2025-01-01T00:00:00.000000001Z web.1@node1     | hello");
    expect(r.stderr.split("\n")[1]).toBe("2025-01-01T00:00:01.5Z web.1@node1     | oops");
    expect(s.requests("subscribeLogs")).toEqual([
      SubscribeLogsRequest.fromPartial({ selector: { serviceIds: [WEB.id] }, options: { follow: true, tail: 5, sinceUnixMs: NOW - 600_000 } }),
    ]);
    const full = await runCli(["service", "logs", "--no-trunc", "--since", "2024-12-31T23:00:00Z", "web"], { host: s.host });
    expect(full.stdout.split("\n")[0]).toBe(`web.1.${T1.id}@node1     | hello`);
    expect(s.requests<SubscribeLogsRequest>("subscribeLogs")[1]!.options!.sinceUnixMs).toBe(NOW - 3_600_000);
    await runCli(["service", "logs", "--since", "1735689000.5", "-n", "all", "web"], { host: s.host });
    expect(s.requests<SubscribeLogsRequest>("subscribeLogs")[2]!.options).toEqual({ streams: [], follow: false, tail: -1, sinceUnixMs: 1_735_689_000_500 });
  });

  it("--raw prints the lines alone; --no-resolve prints ids", async () => {
    const s = await cluster();
    expect((await runCli(["service", "logs", "--raw", "web"], { host: s.host })).stdout).toBe("hello\nworld\nno newline\n");
    expect((await runCli(["service", "logs", "--no-resolve", "web"], { host: s.host })).stdout.split("\n")[0]).toBe(`${WEB.id}.1.t1aaaaaaaaaa@${NODE1.id}     | hello`);
  });

  it("takes a task instead of a service", async () => {
    const s = await cluster(() => [SubscribeLogsMessage.fromPartial({ messages: [line(T10, "only\n")] })]);
    expect(await runCli(["service", "logs", "t10b"], { host: s.host })).toEqual({ code: 0, stdout: "web.10.t10bbbbbbbbb@node2    | only\n", stderr: "" });
    expect(s.requests<SubscribeLogsRequest>("subscribeLogs")[0]!.selector).toEqual({ serviceIds: [], nodeIds: [], taskIds: [T10.id] });
  });

  it("says when neither a service nor a task has the name; tty services need --raw", async () => {
    const s = await cluster();
    expect(await runCli(["service", "logs", "nope"], { host: s.host })).toEqual({ code: 1, stdout: "", stderr: "Error: no such task or service: nope\n" });
    expect(await runCli(["service", "logs", "shell"], { host: s.host })).toEqual({ code: 1, stdout: "", stderr: "Error: tty service logs only supported with --raw\n" });
    expect(s.requests("subscribeLogs")).toEqual([]);
  });

  it("reports a failed subscription as swarmd words it", async () => {
    const s = await cluster(() => {
      throw grpcError(grpc.status.FAILED_PRECONDITION, "this node is not a manager: run the command on a manager");
    });
    expect(await runCli(["service", "logs", "web"], { host: s.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: this node is not a manager: run the command on a manager\n",
    });
  });

  it.each([
    [["--tail", "ten"], 'Error: invalid argument "ten" for "--tail" flag: must be a number of lines or "all"\n'],
    [["--since", "yesterday"], 'Error: invalid argument "yesterday" for "--since" flag: must be a timestamp (e.g. "2013-01-02T13:23:37Z"), Unix seconds or a duration (e.g. "42m")\n'],
  ])("refuses %j before calling swarmd", async (args, stderr) => {
    expect(await runCli(["service", "logs", ...args, "web"], { host: "unix:///nonexistent/swarmd.sock" })).toEqual({ code: 1, stdout: "", stderr });
  });
});
