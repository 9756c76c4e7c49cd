// A task's spec as the body of POST /containers/create (pure). The network is "none" for now: overlay
// networking (attachments, endpoints, published ports) comes later.
import type { Task } from "../../../proto/gen/objects.js";
import type { ContainerSpec } from "../../../proto/gen/specs.js";
import { AppArmorMode, BindPropagation, MountType, SeccompMode, type HealthConfig, type Mount, type Privileges } from "../../../proto/gen/types.js";
import type { ContainerCreateBody, EngineMount } from "./engine-client.js";
import { DockerErrorCode, DockerExecutorError } from "./errors.js";
import { containerLabels } from "./names.js";

/** ContainerSpec.stop_grace_period_ms when unset. */
export const DEFAULT_STOP_GRACE_MS = 10_000;
const MS = 1_000_000; // nanoseconds per millisecond (Docker API durations are nanoseconds)

/** The container spec of a task, or an UnsupportedSpec error when the task does not run a container. */
export function containerSpecOf(task: Task): ContainerSpec {
  const rt = task.spec?.runtime;
  if (rt?.$case !== "container") {
    throw new DockerExecutorError(DockerErrorCode.UnsupportedSpec, `task ${task.id} has no container spec (runtime ${rt?.$case ?? "none"})`);
  }
  return rt.container;
}

/** The stop grace period of a task in milliseconds (default 10 s). */
export function stopGraceMs(spec: ContainerSpec): number {
  return spec.stopGracePeriodMs ?? DEFAULT_STOP_GRACE_MS;
}

/** Seconds for the engine's stop timeout: the grace rounded up to whole seconds (the API's unit). */
export function stopTimeoutSeconds(spec: ContainerSpec): number {
  return Math.max(0, Math.ceil(stopGraceMs(spec) / 1000));
}

/** The create body of a task's container on node `nodeId`. Throws UnsupportedSpec for what it cannot map. */
export function createContainerBody(task: Task, nodeId: string): ContainerCreateBody {
  const spec = containerSpecOf(task);
  if (spec.secrets.length > 0 || spec.configs.length > 0) {
    throw new DockerExecutorError(DockerErrorCode.UnsupportedSpec, "secrets and configs are not supported by the docker executor yet");
  }
  const body: ContainerCreateBody = {
    Image: spec.image,
    Labels: containerLabels(task, nodeId),
    StopTimeout: stopTimeoutSeconds(spec),
    HostConfig: { NetworkMode: "none", RestartPolicy: { Name: "no" } },
  };
  const host = body.HostConfig;
  if (spec.command.length > 0) body.Entrypoint = [...spec.command];
  if (spec.args.length > 0) body.Cmd = [...spec.args];
  if (spec.env.length > 0) body.Env = [...spec.env];
  if (spec.hostname) body.Hostname = spec.hostname;
  if (spec.dir) body.WorkingDir = spec.dir;
  if (spec.user) body.User = spec.user;
  if (spec.tty) body.Tty = true;
  if (spec.openStdin) body.OpenStdin = true;
  if (spec.stopSignal) body.StopSignal = spec.stopSignal;
  const health = healthcheck(spec.healthcheck);
  if (health) body.Healthcheck = health;

  if (spec.groups.length > 0) host.GroupAdd = [...spec.groups];
  if (spec.init !== undefined) host.Init = spec.init;
  if (spec.readOnly) host.ReadonlyRootfs = true;
  if (spec.mounts.length > 0) host.Mounts = spec.mounts.map(engineMount);
  if (spec.capabilityAdd.length > 0) host.CapAdd = [...spec.capabilityAdd];
  if (spec.capabilityDrop.length > 0) host.CapDrop = [...spec.capabilityDrop];
  if (spec.pidsLimit > 0) host.PidsLimit = spec.pidsLimit;
  if (Object.keys(spec.sysctls).length > 0) host.Sysctls = { ...spec.sysctls };
  if (spec.ulimits.length > 0) host.Ulimits = spec.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }));
  if (spec.oomScoreAdj !== 0) host.OomScoreAdj = spec.oomScoreAdj;
  const hosts = extraHosts(spec.hosts);
  if (hosts.length > 0) host.ExtraHosts = hosts;
  const dns = spec.dnsConfig;
  if (dns?.nameservers.length) host.Dns = [...dns.nameservers];
  if (dns?.search.length) host.DnsSearch = [...dns.search];
  if (dns?.options.length) host.DnsOptions = [...dns.options];
  const security = securityOpts(spec.privileges);
  if (security.length > 0) host.SecurityOpt = security;
  const log = task.logDriver ?? task.spec?.logDriver;
  if (log?.name) host.LogConfig = { Type: log.name, Config: { ...log.options } };

  const res = task.spec?.resources;
  if (res?.limits?.nanoCpus) host.NanoCpus = res.limits.nanoCpus;
  if (res?.limits?.memoryBytes) host.Memory = res.limits.memoryBytes;
  if (res?.reservations?.memoryBytes) host.MemoryReservation = res.reservations.memoryBytes;
  if (res?.swapBytes !== undefined) host.MemorySwap = res.swapBytes;
  if (res?.memorySwappiness !== undefined) host.MemorySwappiness = res.memorySwappiness;
  return body;
}

/** The spec's health check: absent = the image's; ["NONE"] disables; zero durations inherit. */
export function healthcheck(h: HealthConfig | undefined): ContainerCreateBody["Healthcheck"] | undefined {
  if (!h) return undefined;
  if (h.test.length === 1 && h.test[0] === "NONE") return { Test: ["NONE"] };
  const out: NonNullable<ContainerCreateBody["Healthcheck"]> = { Test: [...h.test] };
  if (h.intervalMs > 0) out.Interval = h.intervalMs * MS;
  if (h.timeoutMs > 0) out.Timeout = h.timeoutMs * MS;
  if (h.retries > 0) out.Retries = h.retries;
  if (h.startPeriodMs > 0) out.StartPeriod = h.startPeriodMs * MS;
  if (h.startIntervalMs > 0) out.StartInterval = h.startIntervalMs * MS;
  return out;
}

const PROPAGATION: Record<number, string> = {
  [BindPropagation.BIND_PROPAGATION_RPRIVATE]: "rprivate",
  [BindPropagation.BIND_PROPAGATION_PRIVATE]: "private",
  [BindPropagation.BIND_PROPAGATION_RSHARED]: "rshared",
  [BindPropagation.BIND_PROPAGATION_SHARED]: "shared",
  [BindPropagation.BIND_PROPAGATION_RSLAVE]: "rslave",
  [BindPropagation.BIND_PROPAGATION_SLAVE]: "slave",
};

/** One spec mount as an engine mount (bind, volume, tmpfs with size and mode). */
export function engineMount(m: Mount): EngineMount {
  const base = { Target: m.target, ...(m.readOnly ? { ReadOnly: true } : {}) };
  switch (m.type) {
    case MountType.MOUNT_TYPE_BIND: {
      const out: EngineMount = { Type: "bind", Source: m.source, ...base };
      const b = m.bindOptions;
      if (b) {
        const opts: NonNullable<EngineMount["BindOptions"]> = {};
        if (b.propagation !== BindPropagation.BIND_PROPAGATION_RPRIVATE) opts.Propagation = PROPAGATION[b.propagation] ?? "rprivate";
        if (b.nonRecursive) opts.NonRecursive = true;
        if (b.createMountpoint) opts.CreateMountpoint = true;
        if (b.readOnlyNonRecursive) opts.ReadOnlyNonRecursive = true;
        if (b.readOnlyForceRecursive) opts.ReadOnlyForceRecursive = true;
        if (Object.keys(opts).length > 0) out.BindOptions = opts;
      }
      return out;
    }
    case MountType.MOUNT_TYPE_VOLUME: {
      const out: EngineMount = { Type: "volume", ...(m.source ? { Source: m.source } : {}), ...base };
      const v = m.volumeOptions;
      if (v) {
        const opts: NonNullable<EngineMount["VolumeOptions"]> = {};
        if (v.noCopy) opts.NoCopy = true;
        if (Object.keys(v.labels).length > 0) opts.Labels = { ...v.labels };
        if (v.driverConfig?.name) opts.DriverConfig = { Name: v.driverConfig.name, Options: { ...v.driverConfig.options } };
        if (v.subpath) opts.Subpath = v.subpath;
        if (Object.keys(opts).length > 0) out.VolumeOptions = opts;
      }
      return out;
    }
    case MountType.MOUNT_TYPE_TMPFS: {
      const out: EngineMount = { Type: "tmpfs", ...base };
      const t = m.tmpfsOptions;
      if (t) {
        const opts: NonNullable<EngineMount["TmpfsOptions"]> = {};
        if (t.sizeBytes > 0) opts.SizeBytes = t.sizeBytes;
        if (t.mode !== 0) opts.Mode = t.mode;
        const extra = t.options
          .split(",")
          .map((o) => o.trim())
          .filter(Boolean);
        if (extra.length > 0) opts.Options = extra.map((o) => o.split("=", 2));
        if (Object.keys(opts).length > 0) out.TmpfsOptions = opts;
      }
      return out;
    }
    default:
      throw new DockerExecutorError(DockerErrorCode.UnsupportedSpec, `mount type ${MountType[m.type] ?? m.type} (target ${m.target}) is not supported on linux`);
  }
}

/** "IP host [aliases…]" lines as the engine's "host:IP" entries, one per name. */
export function extraHosts(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const [ip, ...names] = line.trim().split(/\s+/);
    if (!ip || names.length === 0) continue;
    for (const n of names) out.push(`${n}:${ip}`);
  }
  return out;
}

/** no-new-privileges, seccomp, AppArmor and SELinux settings as the engine's SecurityOpt strings. */
export function securityOpts(p: Privileges | undefined): string[] {
  if (!p) return [];
  const out: string[] = [];
  if (p.noNewPrivileges) out.push("no-new-privileges:true");
  if (p.seccomp?.mode === SeccompMode.SECCOMP_MODE_UNCONFINED) out.push("seccomp=unconfined");
  if (p.seccomp?.mode === SeccompMode.SECCOMP_MODE_CUSTOM) out.push(`seccomp=${Buffer.from(p.seccomp.profile).toString("utf8")}`);
  if (p.apparmor?.mode === AppArmorMode.APP_ARMOR_MODE_DISABLED) out.push("apparmor=unconfined");
  const se = p.selinuxContext;
  if (se?.disable) out.push("label=disable");
  else if (se) {
    for (const [k, v] of [
      ["user", se.user],
      ["role", se.role],
      ["type", se.type],
      ["level", se.level],
    ] as const) {
      if (v) out.push(`label=${k}:${v}`);
    }
  }
  return out;
}
