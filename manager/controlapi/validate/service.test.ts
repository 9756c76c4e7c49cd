// Service specs: each bad spec is refused with its exact message; good specs pass; references are
// resolved against the store.
import { describe, expect, it } from "vitest";
import { Config, Network, Secret, Service } from "../../../proto/gen/objects.js";
import { ServiceSpec, type ContainerSpec } from "../../../proto/gen/specs.js";
import {
  EndpointMode,
  MountType,
  PublishMode,
  SeccompMode,
  UpdateFailureAction,
  type PortProtocol,
  type RestartCondition,
  type UpdateOrder,
} from "../../../proto/gen/types.js";
import type { StoreObject } from "../../store/index.js";
import { checkServiceUpdate, isImageReference, resolveServiceReferences, validateServiceSpec } from "./service.js";
import { expectError, newStore } from "../test-support.js";

const base = (): ServiceSpec =>
  ServiceSpec.fromPartial({
    annotations: { name: "web", labels: { tier: "front" } },
    mode: { $case: "replicated", replicated: { replicas: 3 } },
    task: { runtime: { $case: "container", container: { image: "nginx:1.27" } } },
  });

function c(s: ServiceSpec): ContainerSpec {
  const rt = s.task!.runtime!;
  if (rt.$case !== "container") throw new Error("not a container");
  return rt.container;
}

const NAME_RULE = `names must start with a letter or digit and contain only letters, digits, "_", "." and "-"`;

type Case = [what: string, mutate: (s: ServiceSpec) => void, message: string];

const BAD: Case[] = [
  ["an empty name", (s) => (s.annotations!.name = ""), `invalid name "": a name is required`],
  ["a name starting with a dash", (s) => (s.annotations!.name = "-web"), `invalid name "-web": ${NAME_RULE}`],
  ["a name with a space", (s) => (s.annotations!.name = "my web"), `invalid name "my web": ${NAME_RULE}`],
  ["a 64-character name", (s) => (s.annotations!.name = "a".repeat(64)), `invalid name "${"a".repeat(64)}": names must be at most 63 characters (this one has 64)`],
  ["a label key with =", (s) => (s.annotations!.labels = { "a=b": "c" }), `invalid labels key "a=b": label keys must not be empty or contain "="`],
  ["no mode", (s) => (s.mode = undefined), "invalid mode: one of replicated, global, replicated_job, global_job is required"],
  [
    "a job running more at once than it completes",
    (s) => (s.mode = { $case: "replicatedJob", replicatedJob: { maxConcurrent: 5, totalCompletions: 3 } }),
    `invalid mode.replicated_job.max_concurrent "5": must be <= total_completions (3)`,
  ],
  ["no task template", (s) => (s.task = undefined), "invalid task: a task template is required"],
  ["no runtime", (s) => (s.task!.runtime = undefined), "invalid task.runtime: a container (or generic runtime) is required"],
  [
    "a network attachment runtime",
    (s) => (s.task!.runtime = { $case: "attachment", attachment: { containerId: "x" } }),
    `invalid task.runtime "attachment": services run a container or a generic runtime; network attachment tasks are made by the cluster`,
  ],
  [
    "a generic runtime with a short kind",
    (s) => (s.task!.runtime = { $case: "generic", generic: { kind: "ab", payload: Buffer.from("x") } }),
    `invalid task.generic.kind "ab": must be at least 3 characters and not "container" or "attachment"`,
  ],
  ["no image", (s) => (c(s).image = ""), `invalid task.container.image "": an image is required`],
  [
    "an upper-case image name",
    (s) => (c(s).image = "Nginx"),
    `invalid task.container.image "Nginx": not an image reference: [REGISTRY/]NAME[:TAG][@DIGEST] with NAME in lower case`,
  ],
  [
    "an empty image tag",
    (s) => (c(s).image = "nginx:"),
    `invalid task.container.image "nginx:": not an image reference: [REGISTRY/]NAME[:TAG][@DIGEST] with NAME in lower case`,
  ],
  ["an env entry without a name", (s) => (c(s).env = ["A=1", "=x"]), `invalid task.container.env[1] "=x": must be NAME=value (or NAME), NAME without spaces`],
  ["a relative working directory", (s) => (c(s).dir = "app"), `invalid task.container.dir "app": must be an absolute path`],
  ["a negative stop grace period", (s) => (c(s).stopGracePeriodMs = -1), `invalid task.container.stop_grace_period_ms "-1": must be >= 0`],
  [
    "a malformed stop signal",
    (s) => (c(s).stopSignal = "SIG TERM"),
    `invalid task.container.stop_signal "SIG TERM": must be a signal name ("SIGTERM", "TERM") or number ("15")`,
  ],
  // ports
  ["target port 0", (s) => (s.endpoint = { mode: 0, ports: [port(0, 80)] }), `invalid endpoint.ports[0].target_port "0": must be 1..65535`],
  ["target port 70000", (s) => (s.endpoint = { mode: 0, ports: [port(70000, 80)] }), `invalid endpoint.ports[0].target_port "70000": must be 1..65535`],
  [
    "published port 70000",
    (s) => (s.endpoint = { mode: 0, ports: [port(80, 70000)] }),
    `invalid endpoint.ports[0].published_port "70000": must be 0 (allocated) or 1..65535`,
  ],
  ["an unknown protocol", (s) => (s.endpoint = { mode: 0, ports: [{ ...port(80, 80), protocol: 7 as PortProtocol }] }), `invalid endpoint.ports[0].protocol "7": must be tcp, udp or sctp`],
  [
    "the same published port twice",
    (s) => (s.endpoint = { mode: 0, ports: [port(80, 8080), port(81, 8080)] }),
    `invalid endpoint.ports[1].published_port "8080": port 8080/tcp is already published by ports[0]`,
  ],
  [
    "an ingress port in dnsrr mode",
    (s) => (s.endpoint = { mode: EndpointMode.ENDPOINT_MODE_DNSRR, ports: [port(80, 8080)] }),
    `invalid endpoint.ports[0].publish_mode "ingress": the dnsrr endpoint mode allows only host-mode published ports`,
  ],
  ["an unknown endpoint mode", (s) => (s.endpoint = { mode: 4 as EndpointMode, ports: [] }), `invalid endpoint.mode "4": must be vip or dnsrr`],
  // mounts
  ["a relative mount target", (s) => (c(s).mounts = [mount({ source: "/srv", target: "data" })]), `invalid task.container.mounts[0].target "data": must be an absolute path`],
  [
    "a relative bind source",
    (s) => (c(s).mounts = [mount({ source: "srv", target: "/data" })]),
    `invalid task.container.mounts[0].source "srv": a bind mount's source must be an absolute host path`,
  ],
  [
    "a tmpfs with a source",
    (s) => (c(s).mounts = [mount({ type: MountType.MOUNT_TYPE_TMPFS, source: "/x", target: "/tmp" })]),
    `invalid task.container.mounts[0].source "/x": a tmpfs mount has no source`,
  ],
  [
    "a read-only tmpfs",
    (s) => (c(s).mounts = [mount({ type: MountType.MOUNT_TYPE_TMPFS, target: "/tmp", readOnly: true })]),
    `invalid task.container.mounts[0].read_only "true": a tmpfs mount cannot be read-only`,
  ],
  [
    "a read-only anonymous volume",
    (s) => (c(s).mounts = [mount({ type: MountType.MOUNT_TYPE_VOLUME, target: "/v", readOnly: true })]),
    `invalid task.container.mounts[0].read_only "true": an anonymous volume (no source) cannot be read-only`,
  ],
  [
    "two mounts on one target",
    (s) => (c(s).mounts = [mount({ source: "/a", target: "/data" }), mount({ type: MountType.MOUNT_TYPE_VOLUME, source: "v", target: "/data/" })]),
    `invalid task.container.mounts[1].target "/data/": mounts[0] already mounts there; each target may be used once`,
  ],
  [
    "volume options on a bind mount",
    (s) => (c(s).mounts = [mount({ source: "/a", target: "/b", volumeOptions: { noCopy: true, labels: {}, driverConfig: undefined, subpath: "" } })]),
    "invalid task.container.mounts[0].volume_options: only volume mounts take volume options, not bind",
  ],
  ["an unknown mount type", (s) => (c(s).mounts = [mount({ type: 3, target: "/p" })]), `invalid task.container.mounts[0].type "3": must be bind, volume or tmpfs`],
  // resources
  [
    "negative CPUs",
    (s) => (s.task!.resources = { limits: res(-1, 0), reservations: undefined }),
    `invalid task.resources.limits.nano_cpus "-1": must be >= 0`,
  ],
  [
    "1 KiB of memory",
    (s) => (s.task!.resources = { limits: res(0, 1024), reservations: undefined }),
    `invalid task.resources.limits.memory_bytes "1024": must be 0 (none) or at least 4194304 (4 MiB)`,
  ],
  [
    "a reservation above the limit",
    (s) => (s.task!.resources = { limits: res(0, 100 << 20), reservations: res(0, 200 << 20) }),
    `invalid task.resources.reservations.memory_bytes "209715200": must be <= limits.memory_bytes (104857600)`,
  ],
  [
    "more CPU reserved than allowed",
    (s) => (s.task!.resources = { limits: res(1e9, 0), reservations: res(2e9, 0) }),
    `invalid task.resources.reservations.nano_cpus "2000000000": must be <= limits.nano_cpus (1000000000)`,
  ],
  // restart and update
  ["a negative restart delay", (s) => (s.task!.restart = { condition: 0, delayMs: -1, maxAttempts: 0, windowMs: 0 }), `invalid task.restart.delay_ms "-1": must be >= 0`],
  ["a negative restart window", (s) => (s.task!.restart = { condition: 0, maxAttempts: 0, windowMs: -5 }), `invalid task.restart.window_ms "-5": must be >= 0`],
  ["an unknown restart condition", (s) => (s.task!.restart = { condition: 9 as RestartCondition, maxAttempts: 0, windowMs: 0 }), `invalid task.restart.condition "9": must be any, on_failure or none`],
  ["a negative update delay", (s) => (s.update = update({ delayMs: -1 })), `invalid update.delay_ms "-1": must be >= 0`],
  ["a negative update monitor", (s) => (s.update = update({ monitorMs: -1 })), `invalid update.monitor_ms "-1": must be >= 0`],
  ["a failure ratio above 1", (s) => (s.update = update({ maxFailureRatio: 1.5 })), `invalid update.max_failure_ratio "1.5": must be between 0 and 1`],
  ["a negative failure ratio", (s) => (s.rollback = update({ maxFailureRatio: -0.1 })), `invalid rollback.max_failure_ratio "-0.1": must be between 0 and 1`],
  ["an unknown failure action", (s) => (s.update = update({ failureAction: 9 as UpdateFailureAction })), `invalid update.failure_action "9": must be pause, continue or rollback`],
  [
    "a rollback that rolls back",
    (s) => (s.rollback = update({ failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK })),
    `invalid rollback.failure_action "rollback": a rollback's failure action must be pause or continue`,
  ],
  ["an unknown update order", (s) => (s.update = update({ order: 5 as UpdateOrder })), `invalid update.order "5": must be stop_first or start_first`],
  // placement
  [
    "a constraint with a single =",
    (s) => (s.task!.placement = placement({ constraints: ["node.labels.zone=east"] })),
    `invalid task.placement.constraints[0] "node.labels.zone=east": constraints are KEY==VALUE or KEY!=VALUE`,
  ],
  [
    "a constraint on an unknown key",
    (s) => (s.task!.placement = placement({ constraints: ["node.role==manager", "node.foo==x"] })),
    `invalid task.placement.constraints[1] "node.foo==x": the key must be node.id, node.hostname, node.ip, node.role, node.platform.os, node.platform.arch, node.labels.<label> or engine.labels.<label>`,
  ],
  [
    "a constraint on an unknown role",
    (s) => (s.task!.placement = placement({ constraints: ["node.role==boss"] })),
    `invalid task.placement.constraints[0] "node.role==boss": node.role is manager or worker`,
  ],
  [
    "a constraint on a bad address",
    (s) => (s.task!.placement = placement({ constraints: ["node.ip==10.0.0.300"] })),
    `invalid task.placement.constraints[0] "node.ip==10.0.0.300": node.ip takes an IP address or a CIDR (10.0.0.0/8)`,
  ],
  [
    "a constraint without a value",
    (s) => (s.task!.placement = placement({ constraints: ["node.labels.zone!="] })),
    `invalid task.placement.constraints[0] "node.labels.zone!=": constraints are KEY==VALUE or KEY!=VALUE, with a key and a value`,
  ],
  [
    "a spread over a bare word",
    (s) => (s.task!.placement = placement({ preferences: [{ spread: { spreadDescriptor: "zone" } }] })),
    `invalid task.placement.preferences[0].spread.spread_descriptor "zone": must be node.id, node.hostname, node.ip, node.role, node.platform.os, node.platform.arch, node.labels.<label> or engine.labels.<label>`,
  ],
  [
    "max replicas on a global service",
    (s) => {
      s.mode = { $case: "global", global: {} };
      s.task!.placement = placement({ maxReplicas: 2 });
    },
    `invalid task.placement.max_replicas "2": applies to replicated services only; a global service runs one task per node`,
  ],
  // secrets, configs, networks
  [
    "a secret without a target",
    (s) => (c(s).secrets = [{ secretId: "", secretName: "pw", file: undefined }]),
    `invalid task.container.secrets[0].file.name "": a target file name is required`,
  ],
  [
    "a secret reference naming nothing",
    (s) => (c(s).secrets = [{ secretId: "", secretName: "", file: file("pw") }]),
    "invalid task.container.secrets[0]: a secret_id or secret_name is required",
  ],
  [
    "two secrets on one file",
    (s) => (c(s).secrets = [{ secretId: "", secretName: "a", file: file("pw") }, { secretId: "", secretName: "b", file: file("pw") }]),
    `invalid task.container.secrets[1].file.name "pw": secrets[0] already uses that file; each target may be used once`,
  ],
  [
    "a config file escaping its directory",
    (s) => (c(s).configs = [{ configId: "", configName: "app", file: file("../etc/passwd") }]),
    `invalid task.container.configs[0].file.name "../etc/passwd": must not contain ".." or NUL`,
  ],
  [
    "a secret file mode above 07777",
    (s) => (c(s).secrets = [{ secretId: "", secretName: "a", file: { ...file("a"), mode: 0o10000 } }]),
    `invalid task.container.secrets[0].file.mode "4096": must be a file mode, 0..07777`,
  ],
  ["a network without a target", (s) => (s.task!.networks = [{ target: "", aliases: [], addresses: [], driverAttachmentOpts: {} }]), `invalid task.networks[0].target "": a network id or name is required`],
  [
    "a static address without a prefix",
    (s) => (s.task!.networks = [{ target: "front", aliases: [], addresses: ["10.0.0.5"], driverAttachmentOpts: {} }]),
    `invalid task.networks[0].addresses[0] "10.0.0.5": must be an address with its prefix length (10.0.1.5/24)`,
  ],
  // container details
  ["an unknown health check kind", (s) => (c(s).healthcheck = health({ test: ["FOO"] })), `invalid task.container.healthcheck.test[0] "FOO": must be "NONE", "CMD" or "CMD-SHELL" (empty = the image's check)`],
  ["CMD without a command", (s) => (c(s).healthcheck = health({ test: ["CMD"] })), `invalid task.container.healthcheck.test "CMD": "CMD" needs a command: ["CMD", "executable", args…]`],
  ["negative health retries", (s) => (c(s).healthcheck = health({ test: [], retries: -1 })), `invalid task.container.healthcheck.retries "-1": must be >= 0`],
  ["a ulimit with soft above hard", (s) => (c(s).ulimits = [{ name: "nofile", soft: 2048, hard: 1024 }]), `invalid task.container.ulimits[0].soft "2048": must be <= hard (1024)`],
  ["an OOM score beyond 1000", (s) => (c(s).oomScoreAdj = 2000), `invalid task.container.oom_score_adj "2000": must be -1000..1000`],
  ["a hosts line without an address", (s) => (c(s).hosts = ["db"]), `invalid task.container.hosts[0] "db": must be "IP HOSTNAME [ALIAS…]"`],
  [
    "a custom seccomp mode without a profile",
    (s) => (c(s).privileges = { credentialSpec: undefined, selinuxContext: undefined, seccomp: { mode: SeccompMode.SECCOMP_MODE_CUSTOM, profile: Buffer.alloc(0) }, apparmor: undefined, noNewPrivileges: false }),
    "invalid task.container.privileges.seccomp.profile: the custom seccomp mode needs a profile",
  ],
];

function port(target: number, published: number) {
  return { name: "", protocol: 0, targetPort: target, publishedPort: published, publishMode: PublishMode.PUBLISH_MODE_INGRESS };
}
function mount(m: Partial<ReturnType<typeof baseMount>>) {
  return { ...baseMount(), ...m };
}
function baseMount() {
  return { type: MountType.MOUNT_TYPE_BIND as number, source: "", target: "", readOnly: false, bindOptions: undefined, volumeOptions: undefined, tmpfsOptions: undefined } as ServiceSpecMount;
}
type ServiceSpecMount = ContainerSpec["mounts"][number];
function res(nanoCpus: number, memoryBytes: number) {
  return { nanoCpus, memoryBytes, generic: [] };
}
function update(u: Partial<NonNullable<ServiceSpec["update"]>>) {
  return { parallelism: 1, delayMs: 0, failureAction: 0, maxFailureRatio: 0, order: 0, ...u };
}
function placement(p: Partial<NonNullable<NonNullable<ServiceSpec["task"]>["placement"]>>) {
  return { constraints: [], preferences: [], platforms: [], maxReplicas: 0, ...p };
}
function file(name: string) {
  return { name, uid: "", gid: "" };
}
function health(h: Partial<NonNullable<ContainerSpec["healthcheck"]>>) {
  return { test: [], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0, startIntervalMs: 0, ...h };
}

describe("validateServiceSpec", () => {
  it("refuses a missing spec", async () => {
    await expectError(() => validateServiceSpec(undefined), "INVALID_ARGUMENT", "invalid spec: a service spec is required");
  });

  it.each(BAD)("refuses %s", async (_what, mutate, message) => {
    const s = base();
    mutate(s);
    await expectError(() => validateServiceSpec(s), "INVALID_ARGUMENT", message);
  });

  it("accepts a minimal spec and a spec that uses every part", () => {
    expect(() => validateServiceSpec(base())).not.toThrow();
    const full = ServiceSpec.fromPartial({
      annotations: { name: "app_1.v2", labels: { "com.example/tier": "front", flag: "" } },
      mode: { $case: "replicatedJob", replicatedJob: { maxConcurrent: 2, totalCompletions: 10 } },
      task: {
        runtime: {
          $case: "container",
          container: {
            image: "registry.local:5000/team/app:1.2@sha256:" + "a".repeat(64),
            env: ["A=1", "PASSTHROUGH"],
            dir: "/srv",
            stopSignal: "SIGRTMIN+3",
            stopGracePeriodMs: 0,
            mounts: [
              { type: MountType.MOUNT_TYPE_BIND, source: "/var/log", target: "/logs", readOnly: true },
              { type: MountType.MOUNT_TYPE_VOLUME, source: "data", target: "/data", volumeOptions: { noCopy: true } },
              { type: MountType.MOUNT_TYPE_VOLUME, target: "/cache" },
              { type: MountType.MOUNT_TYPE_TMPFS, target: "/tmp", tmpfsOptions: { sizeBytes: 64 << 20, mode: 0o1777 } },
            ],
            healthcheck: { test: ["CMD-SHELL", "curl -f localhost"], intervalMs: 5000, retries: 3 },
            hosts: ["10.0.0.2 db db.local"],
            dnsConfig: { nameservers: ["10.0.0.1", "fd00::1"] },
            secrets: [{ secretName: "pw", file: { name: "pw", mode: 0o400 } }, { secretId: "abc", file: { name: "/etc/key", uid: "0", gid: "1000" } }],
            configs: [{ configName: "nginx.conf", file: { name: "/etc/nginx/nginx.conf" } }],
            capabilityAdd: ["CAP_NET_ADMIN", "SYS_TIME"],
            capabilityDrop: ["ALL"],
            ulimits: [{ name: "nofile", soft: 1024, hard: 4096 }, { name: "core", soft: -1, hard: -1 }],
            oomScoreAdj: -500,
          },
        },
        resources: { limits: { nanoCpus: 2e9, memoryBytes: 512 << 20 }, reservations: { nanoCpus: 5e8, memoryBytes: 128 << 20 } },
        restart: { condition: 1, delayMs: 0, maxAttempts: 3, windowMs: 60_000 },
        placement: {
          constraints: ["node.role!=manager", "node.labels.zone == east", "engine.labels.ssd==true", "node.ip==10.0.0.0/8", "node.platform.os==linux"],
          preferences: [{ spread: { spreadDescriptor: "node.labels.rack" } }],
          maxReplicas: 2,
        },
        networks: [{ target: "front", aliases: ["app"], addresses: ["10.0.1.5/24"] }],
        logDriver: { name: "json-file" },
      },
      update: { parallelism: 0, delayMs: 1000, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK, monitorMs: 0, maxFailureRatio: 1, order: 1 },
      rollback: { parallelism: 2, failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE },
      endpoint: {
        mode: EndpointMode.ENDPOINT_MODE_DNSRR,
        ports: [
          { targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_HOST },
          { targetPort: 53, publishedPort: 8080, protocol: 1, publishMode: PublishMode.PUBLISH_MODE_HOST },
          { targetPort: 443, publishedPort: 0, publishMode: PublishMode.PUBLISH_MODE_HOST },
        ],
      },
    });
    expect(() => validateServiceSpec(full)).not.toThrow();
  });

  it("knows docker's image references", () => {
    for (const ok of ["busybox", "library/nginx:latest", "localhost:5000/a/b", "Registry.Example.com/x/y:v1", "[fd00::1]:5000/img", "a__b-c.d/e"]) {
      expect(isImageReference(ok), ok).toBe(true);
    }
    for (const bad of ["", "UPPER/img", "img:bad tag", "img@sha256:short", "-img", "img:", "a//b"]) {
      expect(isImageReference(bad), bad).toBe(false);
    }
  });
});

describe("checkServiceUpdate", () => {
  const current = Service.fromPartial({ id: "s1", spec: base() });

  it("refuses a rename and a change of mode", async () => {
    const renamed = base();
    renamed.annotations!.name = "web2";
    await expectError(() => checkServiceUpdate(current, renamed), "INVALID_ARGUMENT", `invalid name "web2": a service cannot be renamed (it is "web")`);
    const global = base();
    global.mode = { $case: "global", global: {} };
    await expectError(
      () => checkServiceUpdate(current, global),
      "INVALID_ARGUMENT",
      `invalid mode "global": service "web" is replicated and its mode cannot change; remove it and create it again`,
    );
  });

  it("accepts any other change", () => {
    const next = base();
    next.mode = { $case: "replicated", replicated: { replicas: 0 } };
    c(next).image = "nginx:1.28";
    expect(() => checkServiceUpdate(current, next)).not.toThrow();
  });
});

describe("resolveServiceReferences", () => {
  async function world() {
    const store = newStore();
    const obj = (o: object) => o as unknown as StoreObject;
    await store.update((tx) => {
      tx.create("secret", obj(Secret.fromPartial({ id: "sec1", spec: { annotations: { name: "pw" }, data: Buffer.from("x") } })));
      tx.create("config", obj(Config.fromPartial({ id: "cfg1", spec: { annotations: { name: "app.conf" }, data: Buffer.from("x") } })));
      tx.create("network", obj(Network.fromPartial({ id: "net1", spec: { annotations: { name: "front" } } })));
      tx.create("network", obj(Network.fromPartial({ id: "ing1", spec: { annotations: { name: "ingress" }, ingress: true } })));
      tx.create(
        "service",
        obj(
          Service.fromPartial({
            id: "api1",
            spec: { ...base(), annotations: { name: "api" }, endpoint: { ports: [port(80, 8080)] } },
            endpoint: { ports: [{ ...port(443, 30001) }] },
          }),
        ),
      );
    });
    return store;
  }

  it("fills secret and config ids and names and turns network names into ids", async () => {
    const store = await world();
    const s = base();
    c(s).secrets = [{ secretId: "", secretName: "pw", file: file("pw") }];
    c(s).configs = [{ configId: "cfg", configName: "", file: file("/app.conf") }];
    s.task!.networks = [{ target: "front", aliases: [], addresses: [], driverAttachmentOpts: {} }];
    store.view((r) => resolveServiceReferences(s, r));
    expect(c(s).secrets[0]).toMatchObject({ secretId: "sec1", secretName: "pw" });
    expect(c(s).configs[0]).toMatchObject({ configId: "cfg1", configName: "app.conf" });
    expect(s.task!.networks[0]!.target).toBe("net1");
  });

  type RefCase = [what: string, mutate: (s: ServiceSpec) => void, message: string];
  const REF_BAD: RefCase[] = [
    ["a missing secret", (s) => (c(s).secrets = [{ secretId: "", secretName: "nope", file: file("x") }]), `invalid task.container.secrets[0].secret_name "nope": no such secret`],
    ["a missing config id", (s) => (c(s).configs = [{ configId: "zzz", configName: "", file: file("/x") }]), `invalid task.container.configs[0].config_id "zzz": no such config`],
    ["a missing network", (s) => (s.task!.networks = [net("back")]), `invalid task.networks[0].target "back": no such network`],
    [
      "the ingress network",
      (s) => (s.task!.networks = [net("ingress")]),
      `invalid task.networks[0].target "ingress": "ingress" is the ingress network: services reach it by publishing ports, not by attaching to it`,
    ],
    [
      "one network twice (by name and id)",
      (s) => (s.task!.networks = [net("front"), net("net1")]),
      `invalid task.networks[1].target "net1": the service is already attached to network "front" (task.networks[0])`,
    ],
    [
      "an ingress port another service publishes",
      (s) => (s.endpoint = { mode: 0, ports: [port(81, 8080)] }),
      `invalid endpoint.ports[0].published_port "8080": port 8080/tcp is already published by service "api" (api1)`,
    ],
    [
      "a host-mode port on another service's allocated ingress port",
      (s) => (s.endpoint = { mode: 0, ports: [{ ...port(81, 30001), publishMode: PublishMode.PUBLISH_MODE_HOST }] }),
      `invalid endpoint.ports[0].published_port "30001": port 30001/tcp is already published by service "api" (api1)`,
    ],
  ];

  it.each(REF_BAD)("refuses %s", async (_what, mutate, message) => {
    const store = await world();
    const s = base();
    mutate(s);
    await expectError(() => store.view((r) => resolveServiceReferences(s, r)), "INVALID_ARGUMENT", message);
  });

  it("lets a service keep its own ports and use another protocol on a taken port", async () => {
    const store = await world();
    const own = base();
    own.endpoint = { mode: 0, ports: [port(80, 8080)] };
    expect(() => store.view((r) => resolveServiceReferences(own, r, "api1"))).not.toThrow();
    const udp = base();
    udp.endpoint = { mode: 0, ports: [{ ...port(80, 8080), protocol: 1 }] };
    expect(() => store.view((r) => resolveServiceReferences(udp, r))).not.toThrow();
  });
});

function net(target: string) {
  return { target, aliases: [], addresses: [], driverAttachmentOpts: {} };
}
