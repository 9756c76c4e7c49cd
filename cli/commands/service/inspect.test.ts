import { afterEach, describe, expect, it } from "vitest";
import { Service } from "../../../proto/gen/objects.js";
import { MountType, PortProtocol, PublishMode, RestartCondition, UpdateFailureAction, UpdateOrder, UpdateState } from "../../../proto/gen/types.js";
import { runCli, type FakeSwarmd } from "../../testing/fake-swarmd.js";
import { NOW, service, serviceCluster } from "../../testing/service-fixtures.js";

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const port = { protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS, name: "" };

const WEB = Service.fromPartial({
  id: "web00000000000000000000000",
  meta: { version: { index: 42 }, createdAtUnixMs: Date.UTC(2024, 11, 31, 21, 0, 0, 250), updatedAtUnixMs: Date.UTC(2024, 11, 31, 22, 0, 0) },
  spec: {
    annotations: { name: "web", labels: { tier: "front", canary: "" } },
    task: {
      runtime: {
        $case: "container",
        container: {
          image: "nginx:1.27",
          args: ["nginx", "-g", "daemon off;"],
          env: ["A=1", "B=2"],
          dir: "/srv",
          user: "www",
          stopGracePeriodMs: 20_000,
          mounts: [{ type: MountType.MOUNT_TYPE_BIND, source: "/data", target: "/usr/share/nginx/html", readOnly: true }],
          healthcheck: { test: ["CMD-SHELL", "curl -f localhost"], intervalMs: 5_000, timeoutMs: 2_000, retries: 3, startPeriodMs: 10_000 },
        },
      },
      resources: { limits: { nanoCpus: 1_500_000_000, memoryBytes: 1024 ** 3 }, reservations: { nanoCpus: 500_000_000, memoryBytes: 0 } },
      restart: { condition: RestartCondition.RESTART_CONDITION_ON_FAILURE, delayMs: 10_000, maxAttempts: 3, windowMs: 0 },
      placement: { constraints: ["node.role==worker", "node.labels.zone==east"], preferences: [{ spread: { spreadDescriptor: "node.labels.zone" } }], maxReplicas: 2 },
    },
    mode: { $case: "replicated", replicated: { replicas: 3 } },
    update: { parallelism: 2, delayMs: 10_000, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK, maxFailureRatio: 0.2, order: UpdateOrder.UPDATE_ORDER_START_FIRST },
    endpoint: { ports: [port] },
  },
  specVersion: { index: 41 },
  endpoint: { spec: { ports: [port] }, ports: [port], virtualIps: [{ networkId: "ingress1", addr: "10.0.0.5/24" }] },
  updateStatus: { state: UpdateState.UPDATE_STATE_COMPLETED, startedAtUnixMs: NOW - 3 * 60_000, completedAtUnixMs: NOW - 60_000, message: "update completed" },
});

describe("service inspect", () => {
  it("prints docker's JSON: field names, enum words, nanosecond durations, empty fields left out", async () => {
    fake = await serviceCluster({ services: [WEB, service({ id: "glo0", name: "agent", spec: { mode: { $case: "global", global: {} } } })] });
    const r = await runCli(["service", "inspect", "web", "agent"], { host: fake.host });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([
      {
        ID: "web00000000000000000000000",
        Version: { Index: 42 },
        CreatedAt: "2024-12-31T21:00:00.250Z",
        UpdatedAt: "2024-12-31T22:00:00.000Z",
        Spec: {
          Name: "web",
          Labels: { canary: "", tier: "front" },
          TaskTemplate: {
            ContainerSpec: {
              Image: "nginx:1.27",
              Args: ["nginx", "-g", "daemon off;"],
              Env: ["A=1", "B=2"],
              Dir: "/srv",
              User: "www",
              Mounts: [{ Type: "bind", Source: "/data", Target: "/usr/share/nginx/html", ReadOnly: true }],
              StopGracePeriod: 20_000_000_000,
              Healthcheck: { Test: ["CMD-SHELL", "curl -f localhost"], Interval: 5_000_000_000, Timeout: 2_000_000_000, StartPeriod: 10_000_000_000, Retries: 3 },
              Isolation: "default",
            },
            Resources: { Limits: { NanoCPUs: 1_500_000_000, MemoryBytes: 1024 ** 3 }, Reservations: { NanoCPUs: 500_000_000 } },
            RestartPolicy: { Condition: "on-failure", Delay: 10_000_000_000, MaxAttempts: 3 },
            Placement: { Constraints: ["node.role==worker", "node.labels.zone==east"], Preferences: [{ Spread: { SpreadDescriptor: "node.labels.zone" } }], MaxReplicas: 2 },
            ForceUpdate: 0,
            Runtime: "container",
          },
          Mode: { Replicated: { Replicas: 3 } },
          UpdateConfig: { Parallelism: 2, Delay: 10_000_000_000, FailureAction: "rollback", MaxFailureRatio: 0.2, Order: "start-first" },
          EndpointSpec: { Mode: "vip", Ports: [{ Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress" }] },
        },
        Endpoint: {
          Spec: { Mode: "vip", Ports: [{ Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress" }] },
          Ports: [{ Protocol: "tcp", TargetPort: 80, PublishedPort: 8080, PublishMode: "ingress" }],
          VirtualIPs: [{ NetworkID: "ingress1", Addr: "10.0.0.5/24" }],
        },
        UpdateStatus: { State: "completed", StartedAt: "2024-12-31T23:57:00.000Z", CompletedAt: "2024-12-31T23:59:00.000Z", Message: "update completed" },
      },
      {
        ID: "glo0",
        Version: { Index: 10 },
        Spec: {
          Name: "agent",
          Labels: {},
          TaskTemplate: { ContainerSpec: { Image: "nginx:1.27", Isolation: "default" }, ForceUpdate: 0, Runtime: "container" },
          Mode: { Global: {} },
        },
        Endpoint: { Spec: {} },
      },
    ]);
    expect(r.stdout.split("\n")[1]).toBe("    {");
  });

  it("-f templates read the same shape", async () => {
    fake = await serviceCluster({ services: [WEB] });
    const r = await runCli(
      ["service", "inspect", "-f", "{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}} {{.Spec.TaskTemplate.ContainerSpec.Image}} {{.Spec.Labels.tier}} {{json .Endpoint.Ports}}", "web"],
      { host: fake.host },
    );
    expect(r).toEqual({ code: 0, stderr: "", stdout: 'web 3 nginx:1.27 front [{"Protocol":"tcp","TargetPort":80,"PublishedPort":8080,"PublishMode":"ingress"}]\n' });
  });

  it("--pretty prints docker's layout, tabs included", async () => {
    fake = await serviceCluster({ services: [WEB] });
    const r = await runCli(["service", "inspect", "--pretty", "web"], { host: fake.host });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      [
        "",
        "ID:\t\tweb00000000000000000000000",
        "Name:\t\tweb",
        "Labels:",
        " canary",
        " tier=front",
        "Service Mode:\tReplicated",
        " Replicas:\t3",
        "UpdateStatus:",
        " State:\t\tcompleted",
        " Started:\t3 minutes ago",
        " Completed:\tAbout a minute ago",
        " Message:\tupdate completed",
        "Placement:",
        " Constraints:\t[node.role==worker node.labels.zone==east]",
        " Preferences:   [spread=node.labels.zone]",
        " Max Replicas Per Node:   2",
        "UpdateConfig:",
        " Parallelism:\t2",
        " Delay:\t\t10s",
        " On failure:\trollback",
        " Max failure ratio: 0.2",
        " Update order:      start-first",
        "ContainerSpec:",
        " Image:\t\tnginx:1.27",
        " Args:\t\tnginx -g daemon off; ",
        " Env:\t\tA=1 B=2 ",
        " Dir:\t\t/srv",
        " User: www",
        "Mounts:",
        " Target:\t/usr/share/nginx/html",
        "  Source:\t/data",
        "  ReadOnly:\ttrue",
        "  Type:\t\tbind",
        "Resources:",
        " Reservations:",
        "  CPU:\t\t0.5",
        " Limits:",
        "  CPU:\t\t1.5",
        "  Memory:\t1GiB",
        "Endpoint Mode:\tvip",
        "Ports:",
        " PublishedPort = 8080",
        "  Protocol = tcp",
        "  TargetPort = 80",
        "  PublishMode = ingress ",
        " Healthcheck:",
        "  Interval = 5s",
        "  Retries = 3",
        "  StartPeriod =\t10s",
        "  Timeout =\t2s",
        "  Tests:",
        "\t Test = CMD-SHELL",
        "\t Test = curl -f localhost ",
        "",
        "",
      ].join("\n"),
    );
  });

  it("--pretty shows job modes; --format and --pretty do not go together", async () => {
    fake = await serviceCluster({ services: [service({ spec: { mode: { $case: "replicatedJob", replicatedJob: { maxConcurrent: 2, totalCompletions: 6 } } } })] });
    const r = await runCli(["service", "inspect", "--pretty", "web"], { host: fake.host });
    expect(r.stdout).toContain("Service Mode:\tReplicated Job\n Max Concurrent:\t2\n Total Completions:\t6\nPlacement:\n");
    expect(r.stdout).toMatch(/Endpoint Mode:\tvip\n\n$/);
    expect((await runCli(["service", "inspect", "--pretty", "-f", "{{.ID}}", "web"], { host: fake.host })).stderr).toBe(
      "Error: --format is incompatible with human friendly format\n",
    );
  });

  it("shows the update status and the previous spec after an update", async () => {
    const updated = service({
      id: "upd0",
      spec: { task: { runtime: { $case: "container", container: { image: "nginx:1.28" } }, forceUpdate: 2 } },
      previousSpec: { annotations: { name: "web" }, task: { runtime: { $case: "container", container: { image: "nginx:1.27" } }, forceUpdate: 1 }, mode: { $case: "replicated", replicated: { replicas: 1 } } },
      updateStatus: { state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED, startedAtUnixMs: NOW - 90_000, completedAtUnixMs: 0, message: "update rolled back due to failure or early termination of task t9" },
    });
    fake = await serviceCluster({ services: [updated] });
    const json = JSON.parse((await runCli(["service", "inspect", "web"], { host: fake.host })).stdout) as Record<string, unknown>[];
    expect(json[0]!["PreviousSpec"]).toEqual({
      Name: "web",
      Labels: {},
      TaskTemplate: { ContainerSpec: { Image: "nginx:1.27", Isolation: "default" }, ForceUpdate: 1, Runtime: "container" },
      Mode: { Replicated: { Replicas: 1 } },
    });
    expect(json[0]!["UpdateStatus"]).toEqual({ State: "rollback_started", StartedAt: "2024-12-31T23:58:30.000Z", Message: "update rolled back due to failure or early termination of task t9" });
    const template = "{{.UpdateStatus.State}} {{.Spec.TaskTemplate.ContainerSpec.Image}} {{.PreviousSpec.TaskTemplate.ContainerSpec.Image}} {{.Spec.TaskTemplate.ForceUpdate}}";
    expect((await runCli(["service", "inspect", "-f", template, "web"], { host: fake.host })).stdout).toBe("rollback_started nginx:1.28 nginx:1.27 2\n");
    const pretty = (await runCli(["service", "inspect", "--pretty", "web"], { host: fake.host })).stdout;
    expect(pretty).toContain(
      " Replicas:\t1\nUpdateStatus:\n State:\t\trollback_started\n Started:\tAbout a minute ago\n Message:\tupdate rolled back due to failure or early termination of task t9\nPlacement:\n",
    );
  });

  it("--pretty leaves the update status out when the service was never updated", async () => {
    fake = await serviceCluster({ services: [service()] });
    expect((await runCli(["service", "inspect", "--pretty", "web"], { host: fake.host })).stdout).not.toContain("UpdateStatus");
  });

  it("prints what it found, then an error per missing service (exit 1)", async () => {
    fake = await serviceCluster({ services: [WEB] });
    expect(await runCli(["service", "inspect", "-f", "{{.ID}}", "nope", "web"], { host: fake.host })).toEqual({
      code: 1,
      stdout: "web00000000000000000000000\n",
      stderr: "Error: service nope not found\n",
    });
    expect(await runCli(["service", "inspect", "nope"], { host: fake.host })).toEqual({ code: 1, stdout: "[]\n", stderr: "Error: service nope not found\n" });
  });
});
