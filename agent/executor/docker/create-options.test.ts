import { describe, expect, it } from "vitest";
import { Task } from "../../../proto/gen/objects.js";
import { AppArmorMode, BindPropagation, MountType, SeccompMode } from "../../../proto/gen/types.js";
import type { ContainerSpec } from "../../../proto/gen/specs.js";
import { containerSpecOf, createContainerBody, engineMount, extraHosts, healthcheck, stopTimeoutSeconds } from "./create-options.js";
import { DockerErrorCode, DockerExecutorError } from "./errors.js";
import { LABEL, containerLabels, containerName, ownedFilter } from "./names.js";

function task(container: Partial<ContainerSpec>, extra: Partial<Task> = {}): Task {
  return Task.fromPartial({
    id: "t1",
    serviceId: "svc-id",
    slot: 3,
    nodeId: "node-a",
    serviceAnnotations: { name: "web" },
    spec: { runtime: { $case: "container", container: { image: "app:1", ...container } } },
    ...extra,
  });
}

describe("names and labels", () => {
  it("names replicated tasks SERVICE.SLOT.TASKID and global ones SERVICE.NODEID.TASKID", () => {
    expect(containerName(task({}), "node-a")).toBe("web.3.t1");
    expect(containerName(task({}, { slot: 0 }), "node-b")).toBe("web.node-a.t1");
    expect(containerName(task({}, { slot: 0, nodeId: "" }), "node-b")).toBe("web.node-b.t1");
  });

  it("uses the service id when the service has no name", () => {
    expect(containerName(task({}, { serviceAnnotations: undefined }), "n")).toBe("svc-id.3.t1");
  });

  it("labels containers with the swarm labels, which win over the spec's labels", () => {
    const labels = containerLabels(task({ labels: { app: "x", [LABEL.nodeId]: "forged" } }), "node-a");
    expect(labels).toEqual({
      app: "x",
      [LABEL.nodeId]: "node-a",
      [LABEL.serviceId]: "svc-id",
      [LABEL.serviceName]: "web",
      [LABEL.taskId]: "t1",
      [LABEL.taskName]: "web.3.t1",
    });
    expect(ownedFilter("node-a", "t1")).toEqual([`${LABEL.nodeId}=node-a`, `${LABEL.taskId}=t1`]);
  });
});

describe("createContainerBody", () => {
  it("maps a minimal spec to network none, no restart policy, the default 10 s stop timeout", () => {
    const body = createContainerBody(task({}), "node-a");
    expect(body).toEqual({
      Image: "app:1",
      Labels: containerLabels(task({}), "node-a"),
      StopTimeout: 10,
      HostConfig: { NetworkMode: "none", RestartPolicy: { Name: "no" } },
    });
  });

  it("maps command, args, env, user, dir, hostname, tty, stdin, stop signal, init, read-only and capabilities", () => {
    const body = createContainerBody(
      Task.fromPartial({
        id: "t1",
        serviceId: "svc-id",
        slot: 3,
        serviceAnnotations: { name: "web" },
        logDriver: { name: "json-file", options: { "max-size": "1m" } },
        spec: {
          resources: { limits: { nanoCpus: 500_000_000, memoryBytes: 64 << 20 }, reservations: { memoryBytes: 32 << 20 }, swapBytes: -1 },
          runtime: {
            $case: "container",
            container: {
              image: "app:1",
              command: ["/bin/sh", "-c"],
              args: ["echo hi"],
              env: ["A=1"],
              user: "nobody",
              groups: ["wheel"],
              dir: "/tmp",
              hostname: "h",
              tty: true,
              openStdin: true,
              stopSignal: "SIGQUIT",
              stopGracePeriodMs: 1500,
              init: false,
              readOnly: true,
              capabilityAdd: ["CAP_NET_ADMIN"],
              capabilityDrop: ["ALL"],
              pidsLimit: 50,
              sysctls: { "net.core.somaxconn": "1024" },
              ulimits: [{ name: "nofile", soft: 10, hard: 20 }],
              oomScoreAdj: -5,
              hosts: ["10.0.0.1 db db.local", "bad"],
              dnsConfig: { nameservers: ["10.0.0.2"], search: ["x"], options: ["ndots:2"] },
              privileges: { noNewPrivileges: true, seccomp: { mode: SeccompMode.SECCOMP_MODE_UNCONFINED }, apparmor: { mode: AppArmorMode.APP_ARMOR_MODE_DISABLED } },
            },
          },
        },
      }),
      "node-a",
    );
    expect(body).toMatchObject({
      Entrypoint: ["/bin/sh", "-c"],
      Cmd: ["echo hi"],
      Env: ["A=1"],
      User: "nobody",
      WorkingDir: "/tmp",
      Hostname: "h",
      Tty: true,
      OpenStdin: true,
      StopSignal: "SIGQUIT",
      StopTimeout: 2,
      HostConfig: {
        NetworkMode: "none",
        GroupAdd: ["wheel"],
        Init: false,
        ReadonlyRootfs: true,
        CapAdd: ["CAP_NET_ADMIN"],
        CapDrop: ["ALL"],
        PidsLimit: 50,
        Sysctls: { "net.core.somaxconn": "1024" },
        Ulimits: [{ Name: "nofile", Soft: 10, Hard: 20 }],
        OomScoreAdj: -5,
        ExtraHosts: ["db:10.0.0.1", "db.local:10.0.0.1"],
        Dns: ["10.0.0.2"],
        DnsSearch: ["x"],
        DnsOptions: ["ndots:2"],
        SecurityOpt: ["no-new-privileges:true", "seccomp=unconfined", "apparmor=unconfined"],
        LogConfig: { Type: "json-file", Config: { "max-size": "1m" } },
        NanoCpus: 500_000_000,
        Memory: 64 << 20,
        MemoryReservation: 32 << 20,
        MemorySwap: -1,
      },
    });
  });

  it("leaves the image's entrypoint alone when only args are given", () => {
    const body = createContainerBody(task({ args: ["sleep", "1"] }), "n");
    expect(body.Entrypoint).toBeUndefined();
    expect(body.Cmd).toEqual(["sleep", "1"]);
  });

  it("maps bind, volume and tmpfs mounts", () => {
    expect(
      engineMount({
        type: MountType.MOUNT_TYPE_BIND,
        source: "/srv",
        target: "/data",
        readOnly: true,
        bindOptions: { propagation: BindPropagation.BIND_PROPAGATION_RSLAVE, nonRecursive: true, createMountpoint: false, readOnlyNonRecursive: false, readOnlyForceRecursive: false },
        volumeOptions: undefined,
        tmpfsOptions: undefined,
      }),
    ).toEqual({ Type: "bind", Source: "/srv", Target: "/data", ReadOnly: true, BindOptions: { Propagation: "rslave", NonRecursive: true } });
    expect(
      engineMount({
        type: MountType.MOUNT_TYPE_VOLUME,
        source: "vol",
        target: "/v",
        readOnly: false,
        bindOptions: undefined,
        volumeOptions: { noCopy: true, labels: { a: "b" }, driverConfig: { name: "local", options: { type: "tmpfs" } }, subpath: "" },
        tmpfsOptions: undefined,
      }),
    ).toEqual({ Type: "volume", Source: "vol", Target: "/v", VolumeOptions: { NoCopy: true, Labels: { a: "b" }, DriverConfig: { Name: "local", Options: { type: "tmpfs" } } } });
    expect(
      engineMount({
        type: MountType.MOUNT_TYPE_TMPFS,
        source: "",
        target: "/scratch",
        readOnly: false,
        bindOptions: undefined,
        volumeOptions: undefined,
        tmpfsOptions: { sizeBytes: 1 << 20, mode: 0o700, options: "noexec, uid=1" },
      }),
    ).toEqual({ Type: "tmpfs", Target: "/scratch", TmpfsOptions: { SizeBytes: 1 << 20, Mode: 0o700, Options: [["noexec"], ["uid", "1"]] } });
  });

  it("maps health checks: absent inherits, NONE disables, durations in nanoseconds", () => {
    expect(healthcheck(undefined)).toBeUndefined();
    expect(healthcheck({ test: ["NONE"], intervalMs: 5, timeoutMs: 0, retries: 0, startPeriodMs: 0, startIntervalMs: 0 })).toEqual({ Test: ["NONE"] });
    expect(healthcheck({ test: ["CMD", "true"], intervalMs: 100, timeoutMs: 2000, retries: 3, startPeriodMs: 50, startIntervalMs: 0 })).toEqual({
      Test: ["CMD", "true"],
      Interval: 100_000_000,
      Timeout: 2_000_000_000,
      Retries: 3,
      StartPeriod: 50_000_000,
    });
  });

  it("rounds the stop grace up to whole seconds", () => {
    expect(stopTimeoutSeconds(containerSpecOf(task({ stopGracePeriodMs: 0 })))).toBe(0);
    expect(stopTimeoutSeconds(containerSpecOf(task({ stopGracePeriodMs: 1001 })))).toBe(2);
    expect(stopTimeoutSeconds(containerSpecOf(task({})))).toBe(10);
  });

  it("refuses what it cannot run: no container runtime, secrets, named pipes", () => {
    const noRuntime = Task.fromPartial({ id: "t", spec: {} });
    expect(() => createContainerBody(noRuntime, "n")).toThrow(DockerExecutorError);
    expect(() => createContainerBody(task({ secrets: [{ secretId: "s", secretName: "s", file: undefined }] }), "n")).toThrow(/secrets and configs are not supported/);
    try {
      createContainerBody(task({ mounts: [{ type: MountType.MOUNT_TYPE_NPIPE, source: "x", target: "y", readOnly: false, bindOptions: undefined, volumeOptions: undefined, tmpfsOptions: undefined }] }), "n");
      expect.unreachable();
    } catch (e) {
      expect((e as DockerExecutorError).code).toBe(DockerErrorCode.UnsupportedSpec);
    }
  });

  it("turns /etc/hosts lines into host:ip entries", () => {
    expect(extraHosts(["1.2.3.4 a b", "  5.6.7.8   c ", "lonely"])).toEqual(["a:1.2.3.4", "b:1.2.3.4", "c:5.6.7.8"]);
  });
});
