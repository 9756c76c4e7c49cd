import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { CreateServiceRequest } from "../../../proto/gen/control.js";
import { ContainerSpec, ServiceSpec, type DeepPartial } from "../../../proto/gen/specs.js";
import { BindPropagation, MountType, PortProtocol, PublishMode, RestartCondition, UpdateFailureAction, UpdateOrder } from "../../../proto/gen/types.js";
import { runCli, type FakeSwarmd } from "../../testing/fake-swarmd.js";
import { serviceCluster } from "../../testing/service-fixtures.js";

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const dir = mkdtempSync(path.join(os.tmpdir(), "swarm-cli-create-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `service create -d ARGS` against a fake and returns what it printed and the spec it sent. */
async function create(args: string[], env: Record<string, string> = {}) {
  fake = await serviceCluster({});
  const result = await runCli(["service", "create", "-d", ...args], { host: fake.host, env });
  return { result, specs: fake.requests<CreateServiceRequest>("createService").map((r) => r.spec) };
}

const container = (fields: DeepPartial<ContainerSpec>) => ({
  $case: "container" as const,
  container: ContainerSpec.fromPartial({ image: "nginx", ...fields }),
});

describe("service create: the spec sent", () => {
  it("sends only what was given (docker's additions: 1 replica, a random name) and prints the id", async () => {
    const { result, specs } = await create(["nginx"]);
    expect(result).toEqual({ code: 0, stdout: "svc1xxxxxxxxxxxxxxxxxxxxx\n", stderr: "" });
    expect(specs).toEqual([
      ServiceSpec.fromPartial({
        annotations: { name: "quirky_albattani", labels: {} },
        task: { runtime: container({}) },
        mode: { $case: "replicated", replicated: { replicas: 1 } },
      }),
    ]);
  });

  it("maps every flag to its place in the spec", async () => {
    const envFile = path.join(dir, "app.env");
    writeFileSync(envFile, "# settings\n\nA=from-file\n  FILE=x y\nHOME_DIR\n");
    const { result, specs } = await create(
      [
        "--name", "web", "--replicas", "3",
        "-e", "A=1", "-e", "B", "--env", "C", "--env-file", envFile,
        "--label", "tier=front", "-l", "flag", "--container-label", "c=1",
        "--constraint", "node.labels.zone==east", "--constraint", "node.role != manager",
        "--placement-pref", "spread=node.labels.zone", "--replicas-max-per-node", "2",
        "--reserve-cpu", "0.5", "--reserve-memory", "512M", "--limit-cpu", "1.5", "--limit-memory", "1G",
        "--restart-condition", "on-failure", "--restart-delay", "10s", "--restart-max-attempts", "3", "--restart-window", "1m30s",
        "--mount", "type=bind,source=/srv,target=/data,readonly,bind-propagation=rshared",
        "--mount", "type=tmpfs,target=/tmp,tmpfs-size=64M,tmpfs-mode=1770",
        "--mount", "source=cache,target=/cache,volume-label=tier=db,volume-driver=local,volume-opt=o=size=1g,volume-nocopy",
        "-u", "app:app", "-w", "/app", "--hostname", "web-{{.Task.Slot}}", "--entrypoint", "sh -c",
        "--stop-grace-period", "20s", "--stop-signal", "SIGQUIT",
        "--health-cmd", "curl -f localhost", "--health-interval", "5s", "--health-timeout", "2s", "--health-retries", "3", "--health-start-period", "10s",
        "-p", "8080:80", "-p", "published=9090,target=90,mode=host,protocol=udp", "--publish", "7000-7001:7000-7001/sctp", "-p", "mode=ingress,target=53",
        "nginx", "echo hello", "-n",
      ],
      { B: "from-env", HOME_DIR: "/home/app" },
    );
    expect(result).toEqual({ code: 0, stdout: "svc1xxxxxxxxxxxxxxxxxxxxx\n", stderr: "" });
    expect(specs).toEqual([
      ServiceSpec.fromPartial({
        annotations: { name: "web", labels: { tier: "front", flag: "" } },
        task: {
          runtime: container({
            args: ["echo hello", "-n"],
            env: ["FILE=x y", "HOME_DIR=/home/app", "A=1", "B=from-env", "C"],
            labels: { c: "1" },
            mounts: [
              { type: MountType.MOUNT_TYPE_BIND, source: "/srv", target: "/data", readOnly: true, bindOptions: { propagation: BindPropagation.BIND_PROPAGATION_RSHARED } },
              { type: MountType.MOUNT_TYPE_TMPFS, target: "/tmp", tmpfsOptions: { sizeBytes: 64 * 1024 * 1024, mode: 0o1770 } },
              {
                type: MountType.MOUNT_TYPE_VOLUME,
                source: "cache",
                target: "/cache",
                volumeOptions: { labels: { tier: "db" }, driverConfig: { name: "local", options: { o: "size=1g" } }, noCopy: true },
              },
            ],
            user: "app:app",
            dir: "/app",
            hostname: "web-{{.Task.Slot}}",
            command: ["sh", "-c"],
            stopGracePeriodMs: 20_000,
            stopSignal: "SIGQUIT",
            healthcheck: { test: ["CMD-SHELL", "curl -f localhost"], intervalMs: 5_000, timeoutMs: 2_000, retries: 3, startPeriodMs: 10_000 },
          }),
          resources: {
            limits: { nanoCpus: 1_500_000_000, memoryBytes: 1024 ** 3 },
            reservations: { nanoCpus: 500_000_000, memoryBytes: 512 * 1024 ** 2 },
          },
          restart: { condition: RestartCondition.RESTART_CONDITION_ON_FAILURE, delayMs: 10_000, maxAttempts: 3, windowMs: 90_000 },
          placement: {
            constraints: ["node.labels.zone==east", "node.role != manager"],
            preferences: [{ spread: { spreadDescriptor: "node.labels.zone" } }],
            maxReplicas: 2,
          },
        },
        mode: { $case: "replicated", replicated: { replicas: 3 } },
        endpoint: {
          ports: [
            { protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
            { protocol: PortProtocol.PORT_PROTOCOL_UDP, targetPort: 90, publishedPort: 9090, publishMode: PublishMode.PUBLISH_MODE_HOST },
            { protocol: PortProtocol.PORT_PROTOCOL_SCTP, targetPort: 7000, publishedPort: 7000, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
            { protocol: PortProtocol.PORT_PROTOCOL_SCTP, targetPort: 7001, publishedPort: 7001, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
            { protocol: PortProtocol.PORT_PROTOCOL_TCP, targetPort: 53, publishedPort: 0, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
          ],
        },
      }),
    ]);
  });

  it("passes everything after the image to the container, flags included", async () => {
    const { specs } = await create(["--name", "pinger", "alpine", "ping", "-c", "3", "--name", "x"]);
    expect(specs[0]!.annotations!.name).toBe("pinger");
    expect(specs[0]!.task!.runtime).toEqual(container({ image: "alpine", args: ["ping", "-c", "3", "--name", "x"] }));
  });

  it.each([
    [["--mode", "global"], { $case: "global", global: {} }],
    [["--mode", "global-job"], { $case: "globalJob", globalJob: {} }],
    [["--mode", "replicated-job", "--replicas", "5"], { $case: "replicatedJob", replicatedJob: { maxConcurrent: 5, totalCompletions: 5 } }],
    [["--mode", "replicated-job", "--replicas", "6", "--max-concurrent", "2"], { $case: "replicatedJob", replicatedJob: { maxConcurrent: 2, totalCompletions: 6 } }],
    [["--mode", "replicated-job", "--total-completions", "4"], { $case: "replicatedJob", replicatedJob: { maxConcurrent: 4, totalCompletions: 4 } }],
    [["--mode", "replicated-job"], { $case: "replicatedJob", replicatedJob: { maxConcurrent: 0, totalCompletions: 0 } }],
    [["--replicas", "0"], { $case: "replicated", replicated: { replicas: 0 } }],
  ])("%j sends mode %j", async (args, mode) => {
    const { result, specs } = await create([...args, "nginx"]);
    expect(result.stderr).toBe("");
    expect(specs[0]!.mode).toEqual(mode);
  });

  it("--no-healthcheck disables the image's check; --health-cmd alone keeps the other settings the engine's", async () => {
    expect((await create(["--no-healthcheck", "nginx"])).specs[0]!.task!.runtime).toEqual(container({ healthcheck: { test: ["NONE"] } }));
    await fake!.close();
    expect((await create(["--health-retries", "2", "nginx"])).specs[0]!.task!.runtime).toEqual(container({ healthcheck: { retries: 2 } }));
  });

  it("--update-* and --rollback-* set the update and rollback configs, the defaults filling what is not given", async () => {
    const { result, specs } = await create([
      "--update-parallelism", "2", "--update-delay", "10s", "--update-failure-action", "rollback", "--update-monitor", "30s",
      "--update-max-failure-ratio", "0.25", "--update-order", "start-first",
      "--rollback-parallelism", "0", "--rollback-failure-action", "continue",
      "nginx",
    ]);
    expect(result.stderr).toBe("");
    expect(specs[0]!.update).toEqual({
      parallelism: 2,
      delayMs: 10_000,
      failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK,
      monitorMs: 30_000,
      maxFailureRatio: 0.25,
      order: UpdateOrder.UPDATE_ORDER_START_FIRST,
    });
    expect(specs[0]!.rollback).toEqual({
      parallelism: 0,
      delayMs: 0,
      failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE,
      monitorMs: undefined,
      maxFailureRatio: 0,
      order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
    });
    await fake!.close();
    const none = await create(["nginx"]);
    expect([none.specs[0]!.update, none.specs[0]!.rollback]).toEqual([undefined, undefined]);
  });

  it("makes a relative bind source absolute", async () => {
    const { specs } = await create(["--mount", "type=bind,src=./data,dst=/data", "nginx"]);
    const rt = specs[0]!.task!.runtime;
    expect(rt?.$case === "container" && rt.container.mounts[0]!.source).toBe(path.resolve("data"));
  });
});

describe("service create: bad flags are refused before anything is sent", () => {
  const missing = path.join(dir, "missing.env");
  it.each([
    [["--replicas", "x"], 'invalid argument "x" for "--replicas" flag: must be a non-negative integer'],
    [["--replicas", "-1"], 'invalid argument "-1" for "--replicas" flag: must be a non-negative integer'],
    [["--mode", "daemon"], 'invalid argument "daemon" for "--mode" flag: must be one of replicated, global, replicated-job, global-job'],
    [["--limit-memory", "12X"], 'invalid argument "12X" for "--limit-memory" flag: must be a size such as 512M, 1G or 1.5GiB (units b, k, m, g, t, p; binary)'],
    [["--reserve-cpu", "half"], 'invalid argument "half" for "--reserve-cpu" flag: must be a non-negative decimal number of CPUs such as 0.5 or 2 (at most 9 decimals)'],
    [["--limit-cpu", "0.0000000001"], 'invalid argument "0.0000000001" for "--limit-cpu" flag: must be a non-negative decimal number of CPUs such as 0.5 or 2 (at most 9 decimals)'],
    [["--restart-condition", "sometimes"], 'invalid argument "sometimes" for "--restart-condition" flag: must be one of none, on-failure, any'],
    [["--restart-delay", "5"], 'invalid argument "5" for "--restart-delay" flag: time: missing unit in duration "5"'],
    [["--health-interval", "-1s"], 'invalid argument "-1s" for "--health-interval" flag: must not be negative'],
    [["--mount", "type=bind,target=/x"], 'invalid argument "type=bind,target=/x" for "--mount" flag: source is required for bind mounts'],
    [["--mount", "type=tmpfs,source=a,target=/x"], 'invalid argument "type=tmpfs,source=a,target=/x" for "--mount" flag: source is not supported for tmpfs mounts'],
    [["--mount", "source=v,target=/x,bind-propagation=shared"], `invalid argument "source=v,target=/x,bind-propagation=shared" for "--mount" flag: cannot mix 'bind-*' options with mount type 'volume'`],
    [["--mount", "type=disk,target=/x"], 'invalid argument "type=disk,target=/x" for "--mount" flag: type=disk: must be one of bind, volume, tmpfs, npipe'],
    [["--mount", "source=v"], 'invalid argument "source=v" for "--mount" flag: target is required'],
    [["--mount", "target=/x,readonly=maybe"], 'invalid argument "target=/x,readonly=maybe" for "--mount" flag: readonly=maybe: must be true or false'],
    [["--mount", "target=/x,colour=red"], 'invalid argument "target=/x,colour=red" for "--mount" flag: unknown field "colour": must be one of type, source, src, target, dst, destination, readonly, ro, bind-propagation, bind-nonrecursive, bind-create-src, volume-driver, volume-opt, volume-label, volume-nocopy, volume-subpath, tmpfs-size, tmpfs-mode'],
    [["--mount", "type=tmpfs,target=/x,tmpfs-mode=999"], 'invalid argument "type=tmpfs,target=/x,tmpfs-mode=999" for "--mount" flag: tmpfs-mode=999: must be an octal file mode such as 1777'],
    [["-p", "80:abc"], 'invalid argument "80:abc" for "--publish" flag: target port "abc": must be a port number 0-65535'],
    [["-p", "70000:80"], 'invalid argument "70000:80" for "--publish" flag: published port "70000": must be a port number 0-65535'],
    [["-p", "published=8080"], `invalid argument "published=8080" for "--publish" flag: missing mandatory field 'target'`],
    [["-p", "8080-8081:80"], 'invalid argument "8080-8081:80" for "--publish" flag: the published range 8080-8081 and the target range 80 must have the same length'],
    [["-p", "mode=bridge,target=80"], 'invalid argument "mode=bridge,target=80" for "--publish" flag: mode=bridge: must be one of ingress, host'],
    [["-p", "80/icmp"], 'invalid argument "80/icmp" for "--publish" flag: protocol=icmp: must be one of tcp, udp, sctp'],
    [["-p", "127.0.0.1:80:80"], 'invalid argument "127.0.0.1:80:80" for "--publish" flag: a host IP is not supported: use [PUBLISHED:]TARGET[/PROTOCOL]'],
    [["--constraint", "node.labels.zone"], 'invalid argument "node.labels.zone" for "--constraint" flag: must be KEY==VALUE or KEY!=VALUE, e.g. node.labels.zone==east'],
    [["--placement-pref", "pack=x"], 'invalid argument "pack=x" for "--placement-pref" flag: unsupported placement preference pack (only spread is supported)'],
    [["--placement-pref", "spread"], 'invalid argument "spread" for "--placement-pref" flag: placement preference must be of the format "<strategy>=<arg>"'],
    [["--entrypoint", "sh -c 'x"], `invalid argument "sh -c 'x" for "--entrypoint" flag: the single quote is not closed`],
    [["-e", "=x"], 'invalid argument "=x" for "--env" flag: the variable name must not be empty (want NAME=value or NAME)'],
    [["--label", "=x"], 'invalid argument "=x" for "--label" flag: the key must not be empty (want key=value)'],
    [["--env-file", missing], `invalid argument "${missing}" for "--env-file" flag: cannot read it: no such file`],
    [["--mode", "global", "--replicas", "2"], "replicas can only be used with replicated or replicated-job mode (the service is global)"],
    [["--mode", "global-job", "--replicas-max-per-node", "1"], "replicas-max-per-node can only be used with replicated or replicated-job mode (the service is global-job)"],
    [["--max-concurrent", "2"], "max-concurrent can only be used with replicated-job mode (the service is replicated)"],
    [["--total-completions", "2"], "total-completions can only be used with replicated-job mode (the service is replicated)"],
    [["--mode", "replicated-job", "--replicas", "2", "--total-completions", "3"], "--replicas and --total-completions both set a replicated job's total completions: give one"],
    [["--no-healthcheck", "--health-cmd", "true"], "--no-healthcheck conflicts with --health-* options"],
    [["--update-failure-action", "retry"], 'invalid argument "retry" for "--update-failure-action" flag: must be one of pause, continue, rollback'],
    [["--rollback-failure-action", "rollback"], 'invalid argument "rollback" for "--rollback-failure-action" flag: must be one of pause, continue'],
    [["--update-order", "first"], 'invalid argument "first" for "--update-order" flag: must be one of stop-first, start-first'],
    [["--rollback-max-failure-ratio", "2"], 'invalid argument "2" for "--rollback-max-failure-ratio" flag: must be a number from 0 to 1, such as 0.2'],
    [["--update-monitor", "5"], 'invalid argument "5" for "--update-monitor" flag: time: missing unit in duration "5"'],
  ])("%j", async (args, message) => {
    expect(await runCli(["service", "create", ...args, "nginx"], { host: "unix:///nonexistent/swarmd.sock" })).toEqual({
      code: 1,
      stdout: "",
      stderr: `Error: ${message}\n`,
    });
  });

  it("an env file line without a name names the file and the line", async () => {
    const bad = path.join(dir, "bad.env");
    writeFileSync(bad, "A=1\n=oops\n");
    expect((await runCli(["service", "create", "--env-file", bad, "nginx"], { host: "unix:///nonexistent/swarmd.sock" })).stderr).toBe(
      `Error: invalid argument "${bad}" for "--env-file" flag: line 2: no variable name in "=oops"\n`,
    );
  });

  it("a missing image is commander's usage error", async () => {
    const r = await runCli(["service", "create", "--name", "x"], { host: "unix:///nonexistent/swarmd.sock" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: missing required argument 'image'\nSee 'swarm service create --help'.\n");
  });
});
