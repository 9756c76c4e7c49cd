import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { UpdateServiceResponse, type UpdateServiceRequest } from "../../../proto/gen/control.js";
import { Service } from "../../../proto/gen/objects.js";
import { ServiceSpec, type ContainerSpec } from "../../../proto/gen/specs.js";
import { HealthConfig, Mount, MountType, PortConfig, PortProtocol, PublishMode, RestartCondition, UpdateFailureAction, UpdateOrder } from "../../../proto/gen/types.js";
import { grpcError, runCli, type FakeSwarmd } from "../../testing/fake-swarmd.js";
import { service, serviceCluster } from "../../testing/service-fixtures.js";

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const { UPDATE_FAILURE_ACTION_PAUSE: PAUSE, UPDATE_FAILURE_ACTION_CONTINUE: CONTINUE, UPDATE_FAILURE_ACTION_ROLLBACK: ROLLBACK } = UpdateFailureAction;
const { UPDATE_ORDER_STOP_FIRST: STOP_FIRST, UPDATE_ORDER_START_FIRST: START_FIRST } = UpdateOrder;
const MIB = 1024 ** 2;
const tcp = (published: number, target: number) =>
  PortConfig.fromPartial({ protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: target, publishedPort: published, publishMode: PublishMode.PUBLISH_MODE_INGRESS });
const HOST_DNS = PortConfig.fromPartial({ protocol: PortProtocol.PORT_PROTOCOL_UDP, targetPort: 53, publishedPort: 53, publishMode: PublishMode.PUBLISH_MODE_HOST });

/** A service with something in every part the flags change. */
const WEB = service({
  id: "web00000000000000000000000",
  meta: { version: { index: 42 } },
  spec: {
    annotations: { name: "web", labels: { tier: "front", canary: "" } },
    task: {
      runtime: {
        $case: "container",
        container: {
          image: "nginx:1.27",
          args: ["nginx"],
          env: ["A=1", "B=2", "C=3"],
          labels: { c: "1", d: "2" },
          user: "www",
          dir: "/srv",
          hostname: "web",
          mounts: [
            { type: MountType.MOUNT_TYPE_VOLUME, source: "cache", target: "/cache" },
            { type: MountType.MOUNT_TYPE_BIND, source: "/srv/data", target: "/data", readOnly: true },
          ],
          healthcheck: { test: ["CMD-SHELL", "curl -f localhost"], intervalMs: 5_000, timeoutMs: 2_000, retries: 3 },
          stopGracePeriodMs: 10_000,
        },
      },
      resources: { limits: { nanoCpus: 1_000_000_000, memoryBytes: 512 * MIB }, reservations: { nanoCpus: 500_000_000, memoryBytes: 256 * MIB } },
      restart: { condition: RestartCondition.RESTART_CONDITION_ON_FAILURE, delayMs: 10_000, maxAttempts: 3, windowMs: 0 },
      placement: { constraints: ["node.role == worker", "node.labels.zone==east"], preferences: [{ spread: { spreadDescriptor: "node.labels.zone" } }], maxReplicas: 2 },
      forceUpdate: 4,
    },
    mode: { $case: "replicated", replicated: { replicas: 3 } },
    update: { parallelism: 2, delayMs: 10_000, failureAction: ROLLBACK, monitorMs: 30_000, maxFailureRatio: 0.1, order: START_FIRST },
    endpoint: { ports: [tcp(8080, 80), HOST_DNS] },
  },
});

/** Runs `service update -d ARGS web` against a fake knowing `services` and returns what it printed and the requests it sent. */
async function update(args: string[], opts: { services?: Service[]; env?: Record<string, string> } = {}) {
  fake = await serviceCluster({ services: opts.services ?? [WEB], control: { updateService: () => UpdateServiceResponse.fromPartial({}) } });
  const result = await runCli(["service", "update", "-d", ...args, "web"], { host: fake.host, env: opts.env });
  return { result, requests: fake.requests<UpdateServiceRequest>("updateService") };
}

/** WEB's spec with `change` applied to a copy. */
function webSpec(change: (spec: ServiceSpec, container: ContainerSpec) => void): ServiceSpec {
  const spec = ServiceSpec.fromPartial(WEB.spec!);
  const rt = spec.task!.runtime!;
  if (rt.$case !== "container") throw new Error("WEB runs a container");
  change(spec, rt.container);
  return spec;
}

describe("service update: the spec sent is the current one with exactly the given changes", () => {
  it.each<[string, string[], (spec: ServiceSpec, c: ContainerSpec) => void]>([
    ["no flag: the spec as read", [], () => undefined],
    ["--image", ["--image", "nginx:1.28"], (_, c) => (c.image = "nginx:1.28")],
    ["--args splits like a shell", ["--args", "nginx -g 'daemon off;'"], (_, c) => (c.args = ["nginx", "-g", "daemon off;"])],
    [
      "--env-rm by name, --env-add replacing in place or appending, NAME alone from the CLI's environment",
      ["--env-add", "B=20", "--env-add", "D=4", "--env-add", "HOME_DIR", "--env-add", "UNSET", "--env-rm", "A"],
      (_, c) => (c.env = ["B=20", "C=3", "D=4", "HOME_DIR=/home/app", "UNSET"]),
    ],
    ["--label-add / --label-rm", ["--label-add", "tier=back", "--label-add", "new", "--label-rm", "canary"], (s) => (s.annotations!.labels = { tier: "back", new: "" })],
    ["--container-label-add / --container-label-rm", ["--container-label-add", "e=5", "--container-label-rm", "c"], (_, c) => (c.labels = { d: "2", e: "5" })],
    [
      "--constraint-rm matches without blanks; --constraint-add appends, a constraint already there stays once",
      ["--constraint-add", "node.labels.disk==ssd", "--constraint-add", "node.labels.zone == east", "--constraint-rm", "node.role==worker"],
      (s) => (s.task!.placement!.constraints = ["node.labels.zone == east", "node.labels.disk==ssd"]),
    ],
    [
      "--placement-pref-add / --placement-pref-rm",
      ["--placement-pref-add", "spread=node.labels.rack", "--placement-pref-rm", "spread=node.labels.zone"],
      (s) => (s.task!.placement!.preferences = [{ spread: { spreadDescriptor: "node.labels.rack" } }]),
    ],
    ["--replicas", ["--replicas", "5"], (s) => (s.mode = { $case: "replicated", replicated: { replicas: 5 } })],
    ["--replicas-max-per-node", ["--replicas-max-per-node", "1"], (s) => (s.task!.placement!.maxReplicas = 1)],
    [
      "--mount-add replaces the mount of its target in place or appends; --mount-rm by target",
      ["--mount-add", "type=tmpfs,target=/data", "--mount-add", "source=logs,target=/logs", "--mount-rm", "/cache"],
      (_, c) =>
        (c.mounts = [
          Mount.fromPartial({ type: MountType.MOUNT_TYPE_TMPFS, target: "/data" }),
          Mount.fromPartial({ type: MountType.MOUNT_TYPE_VOLUME, source: "logs", target: "/logs" }),
        ]),
    ],
    [
      "--publish-rm by target, protocol and mode; --publish-add appends what is not there yet",
      ["--publish-add", "9090:90", "--publish-add", "8080:80", "--publish-rm", "mode=host,target=53,protocol=udp"],
      (s) => (s.endpoint!.ports = [tcp(8080, 80), tcp(9090, 90)]),
    ],
    ["--publish-rm of another mode removes nothing", ["--publish-rm", "53/udp"], () => undefined],
    [
      "--reserve-cpu and --limit-memory keep the other resource",
      ["--reserve-cpu", "0.25", "--limit-memory", "1G"],
      (s) =>
        (s.task!.resources = { limits: { nanoCpus: 1_000_000_000, memoryBytes: 1024 * MIB, generic: [] }, reservations: { nanoCpus: 250_000_000, memoryBytes: 256 * MIB, generic: [] } }),
    ],
    [
      "--restart-condition and --restart-max-attempts keep the delay",
      ["--restart-condition", "any", "--restart-max-attempts", "0"],
      (s) => (s.task!.restart = { condition: RestartCondition.RESTART_CONDITION_ANY, delayMs: 10_000, maxAttempts: 0, windowMs: 0 }),
    ],
    [
      "--restart-delay and --restart-window",
      ["--restart-delay", "1s", "--restart-window", "1m"],
      (s) => (s.task!.restart = { condition: RestartCondition.RESTART_CONDITION_ON_FAILURE, delayMs: 1_000, maxAttempts: 3, windowMs: 60_000 }),
    ],
    [
      "--update-parallelism and --update-order keep the rest of the update config",
      ["--update-parallelism", "1", "--update-order", "stop-first"],
      (s) => (s.update = { parallelism: 1, delayMs: 10_000, failureAction: ROLLBACK, monitorMs: 30_000, maxFailureRatio: 0.1, order: STOP_FIRST }),
    ],
    [
      "--update-delay, --update-failure-action, --update-monitor, --update-max-failure-ratio",
      ["--update-delay", "0s", "--update-failure-action", "continue", "--update-monitor", "1m", "--update-max-failure-ratio", "0.5"],
      (s) => (s.update = { parallelism: 2, delayMs: 0, failureAction: CONTINUE, monitorMs: 60_000, maxFailureRatio: 0.5, order: START_FIRST }),
    ],
    [
      "--rollback-* on a service without a rollback config start from the defaults",
      ["--rollback-parallelism", "0", "--rollback-failure-action", "continue"],
      (s) => (s.rollback = { parallelism: 0, delayMs: 0, failureAction: CONTINUE, monitorMs: undefined, maxFailureRatio: 0, order: STOP_FIRST }),
    ],
    [
      "--rollback-delay, --rollback-monitor, --rollback-max-failure-ratio, --rollback-order",
      ["--rollback-delay", "2s", "--rollback-monitor", "20s", "--rollback-max-failure-ratio", "1", "--rollback-order", "start-first"],
      (s) => (s.rollback = { parallelism: 1, delayMs: 2_000, failureAction: PAUSE, monitorMs: 20_000, maxFailureRatio: 1, order: START_FIRST }),
    ],
    [
      "--health-cmd and --health-retries keep the other settings",
      ["--health-cmd", "true", "--health-retries", "5"],
      (_, c) => (c.healthcheck = HealthConfig.fromPartial({ test: ["CMD-SHELL", "true"], intervalMs: 5_000, timeoutMs: 2_000, retries: 5 })),
    ],
    ["--no-healthcheck", ["--no-healthcheck"], (_, c) => (c.healthcheck = HealthConfig.fromPartial({ test: ["NONE"] }))],
    [
      "--user, --workdir, --hostname, --stop-grace-period, --stop-signal, --entrypoint",
      ["--user", "app", "--workdir", "/app", "--hostname", "web-{{.Task.Slot}}", "--stop-grace-period", "30s", "--stop-signal", "SIGTERM", "--entrypoint", "/entry.sh -x"],
      (_, c) => Object.assign(c, { user: "app", dir: "/app", hostname: "web-{{.Task.Slot}}", stopGracePeriodMs: 30_000, stopSignal: "SIGTERM", command: ["/entry.sh", "-x"] }),
    ],
    ["--force bumps force_update, so every task is replaced", ["--force"], (s) => (s.task!.forceUpdate = 5)],
  ])("%s", async (_, args, change) => {
    const { result, requests } = await update(args, { env: { HOME_DIR: "/home/app" } });
    expect(result).toEqual({ code: 0, stdout: "web\n", stderr: "" });
    expect(requests).toEqual([{ serviceId: WEB.id, serviceVersion: { index: 42 }, spec: webSpec(change), rollback: false }]);
  });

  it("takes its flags after the service too", async () => {
    fake = await serviceCluster({ services: [WEB], control: { updateService: () => UpdateServiceResponse.fromPartial({}) } });
    expect(await runCli(["service", "update", "web", "-d", "--image", "nginx:1.28"], { host: fake.host })).toEqual({ code: 0, stdout: "web\n", stderr: "" });
    expect(fake.requests<UpdateServiceRequest>("updateService")[0]!.spec).toEqual(webSpec((_, c) => (c.image = "nginx:1.28")));
  });

  it("sets a replicated job's completions with --replicas and a global service's update config from the defaults", async () => {
    const job = service({ spec: { mode: { $case: "replicatedJob", replicatedJob: { maxConcurrent: 2, totalCompletions: 4 } } } });
    const batch = await update(["--replicas", "6", "--max-concurrent", "3"], { services: [job] });
    expect(batch.requests[0]!.spec!.mode).toEqual({ $case: "replicatedJob", replicatedJob: { maxConcurrent: 3, totalCompletions: 6 } });
    await fake!.close();
    const global = await update(["--update-delay", "5s"], { services: [service({ spec: { mode: { $case: "global", global: {} } } })] });
    expect(global.requests[0]!.spec!.update).toEqual({ parallelism: 1, delayMs: 5_000, failureAction: PAUSE, monitorMs: undefined, maxFailureRatio: 0, order: STOP_FIRST });
  });
});

describe("service update: refusals", () => {
  it.each([
    [["--update-failure-action", "sometimes"], 'invalid argument "sometimes" for "--update-failure-action" flag: must be one of pause, continue, rollback'],
    [["--rollback-failure-action", "rollback"], 'invalid argument "rollback" for "--rollback-failure-action" flag: must be one of pause, continue'],
    [["--update-order", "random"], 'invalid argument "random" for "--update-order" flag: must be one of stop-first, start-first'],
    [["--rollback-order", "last"], 'invalid argument "last" for "--rollback-order" flag: must be one of stop-first, start-first'],
    [["--update-max-failure-ratio", "1.5"], 'invalid argument "1.5" for "--update-max-failure-ratio" flag: must be a number from 0 to 1, such as 0.2'],
    [["--rollback-max-failure-ratio", "-0.1"], 'invalid argument "-0.1" for "--rollback-max-failure-ratio" flag: must be a number from 0 to 1, such as 0.2'],
    [["--update-parallelism", "two"], 'invalid argument "two" for "--update-parallelism" flag: must be a non-negative integer'],
    [["--update-delay", "5"], 'invalid argument "5" for "--update-delay" flag: time: missing unit in duration "5"'],
    [["--update-monitor", "-1s"], 'invalid argument "-1s" for "--update-monitor" flag: must not be negative'],
    [["--rollback-delay", "soon"], 'invalid argument "soon" for "--rollback-delay" flag: time: invalid duration "soon"'],
    [["--image", ""], 'invalid argument "" for "--image" flag: must be an image reference such as nginx:1.27'],
    [["--args", "sh -c 'x"], `invalid argument "sh -c 'x" for "--args" flag: the single quote is not closed`],
    [["--env-add", "=x"], 'invalid argument "=x" for "--env-add" flag: the variable name must not be empty (want NAME=value or NAME)'],
    [["--env-rm", "A=1"], 'invalid argument "A=1" for "--env-rm" flag: must be a variable name, without =value'],
    [["--label-add", "=x"], 'invalid argument "=x" for "--label-add" flag: the key must not be empty (want key=value)'],
    [["--label-rm", ""], 'invalid argument "" for "--label-rm" flag: must be a label key, without =value'],
    [["--container-label-rm", "a=b"], 'invalid argument "a=b" for "--container-label-rm" flag: must be a label key, without =value'],
    [["--constraint-add", "node.labels.zone"], 'invalid argument "node.labels.zone" for "--constraint-add" flag: must be KEY==VALUE or KEY!=VALUE, e.g. node.labels.zone==east'],
    [["--constraint-rm", "zone"], 'invalid argument "zone" for "--constraint-rm" flag: must be KEY==VALUE or KEY!=VALUE, e.g. node.labels.zone==east'],
    [["--placement-pref-rm", "pack=x"], 'invalid argument "pack=x" for "--placement-pref-rm" flag: unsupported placement preference pack (only spread is supported)'],
    [["--mount-add", "type=bind,target=/x"], 'invalid argument "type=bind,target=/x" for "--mount-add" flag: source is required for bind mounts'],
    [["--mount-add", "target=/x", "--mount-add", "type=tmpfs,target=/x"], 'invalid argument "type=tmpfs,target=/x" for "--mount-add" flag: another --mount-add has the target /x'],
    [["--mount-rm", ""], 'invalid argument "" for "--mount-rm" flag: must be a target path, without =value'],
    [["--publish-add", "80:abc"], 'invalid argument "80:abc" for "--publish-add" flag: target port "abc": must be a port number 0-65535'],
    [["--publish-rm", "mode=bridge,target=80"], 'invalid argument "mode=bridge,target=80" for "--publish-rm" flag: mode=bridge: must be one of ingress, host'],
    [["--replicas", "-1"], 'invalid argument "-1" for "--replicas" flag: must be a non-negative integer'],
    [["--rollback", "--image", "nginx"], "other flags may not be combined with --rollback"],
    [["--rollback", "--force"], "other flags may not be combined with --rollback"],
  ])("%j is refused before anything is sent", async (args, message) => {
    expect(await runCli(["service", "update", ...args, "web"], { host: "unix:///nonexistent/swarmd.sock" })).toEqual({ code: 1, stdout: "", stderr: `Error: ${message}\n` });
  });

  it("refuses flags that do not fit the service after reading it, sending nothing", async () => {
    const global = await update(["--replicas", "2"], { services: [service({ spec: { mode: { $case: "global", global: {} } } })] });
    expect(global.result).toEqual({ code: 1, stdout: "", stderr: "Error: replicas can only be used with replicated or replicated-job mode (the service is global)\n" });
    expect(global.requests).toEqual([]);
  });

  it("a missing service is swarmd's not-found, a missing argument commander's usage error", async () => {
    const missing = await update([], { services: [service({ name: "db" })] });
    expect(missing.result).toEqual({ code: 1, stdout: "", stderr: "Error: service web not found\n" });
    expect(missing.requests).toEqual([]);
    const r = await runCli(["service", "update", "--image", "nginx"], { host: "unix:///nonexistent/swarmd.sock" });
    expect(r).toEqual({ code: 1, stdout: "", stderr: "error: missing required argument 'service'\nSee 'swarm service update --help'.\n" });
  });

  it("a concurrent change is refused with a clear message, not overwritten", async () => {
    fake = await serviceCluster({
      services: [WEB],
      control: {
        updateService: () => {
          throw grpcError(grpc.status.FAILED_PRECONDITION, "update out of sequence: service web is at version 43, but the request was based on version 42; read it again and retry");
        },
      },
    });
    expect(await runCli(["service", "update", "--image", "nginx:1.28", "web"], { host: fake.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: service web was changed by someone else since it was read (update out of sequence): run the command again\n",
    });
    expect(fake.requests<UpdateServiceRequest>("updateService").map((r) => r.serviceVersion)).toEqual([{ index: 42 }]);
    expect(fake.requests("listTasks")).toEqual([]);
  });

  it("other refusals from swarmd are printed as they are", async () => {
    fake = await serviceCluster({
      services: [WEB],
      control: {
        updateService: () => {
          throw grpcError(grpc.status.INVALID_ARGUMENT, 'invalid task.container.image "Nginx": must be a valid image reference');
        },
      },
    });
    expect((await runCli(["service", "update", "--image", "Nginx", "web"], { host: fake.host })).stderr).toBe(
      'Error: invalid task.container.image "Nginx": must be a valid image reference\n',
    );
  });
});

describe("service update --rollback and service rollback", () => {
  const rolledOut = Service.fromPartial({ ...WEB, previousSpec: webSpec((_, c) => (c.image = "nginx:1.26")) });

  it.each([[["service", "update", "--rollback", "-d", "web"]], [["service", "rollback", "-d", "web"]]])("%j asks for the previous spec with the version read", async (argv) => {
    fake = await serviceCluster({ services: [rolledOut], control: { updateService: () => UpdateServiceResponse.fromPartial({}) } });
    expect(await runCli(argv, { host: fake.host })).toEqual({ code: 0, stdout: "web\n", stderr: "" });
    expect(fake.requests<UpdateServiceRequest>("updateService")).toEqual([{ serviceId: WEB.id, serviceVersion: { index: 42 }, spec: undefined, rollback: true }]);
  });

  it.each([[["service", "update", "--rollback", "web"]], [["service", "rollback", "web"]]])("%j refuses a service without a previous spec, sending nothing", async (argv) => {
    fake = await serviceCluster({ services: [WEB] });
    expect(await runCli(argv, { host: fake.host })).toEqual({ code: 1, stdout: "", stderr: "Error: service web has no previous spec to roll back to\n" });
    expect(fake.requests("updateService")).toEqual([]);
  });
});
