// docker's swarm.Service shape of a service: what `service inspect` prints as JSON and what
// `--format` templates read (`.Spec.Name`, `.Spec.Mode.Replicated.Replicas`,
// `.Spec.TaskTemplate.ContainerSpec.Image`, `.Endpoint.Ports`). Field names and enum words are
// docker's; durations are nanoseconds and times RFC 3339, as in docker's JSON. Fields docker omits
// when empty are undefined here (JSON leaves them out; templates print "<no value>").
import type { Service } from "../../../proto/gen/objects.js";
import type { ContainerSpec, ServiceSpec, TaskSpec } from "../../../proto/gen/specs.js";
import type { Driver, EndpointSpec, HealthConfig, Mount, PortConfig, Resources, UpdateConfig } from "../../../proto/gen/types.js";
import { rfc3339 } from "../../output/units.js";
import {
  BIND_PROPAGATIONS,
  ENDPOINT_MODES,
  FAILURE_ACTIONS,
  ISOLATIONS,
  MOUNT_TYPES,
  PORT_PROTOCOLS,
  PUBLISH_MODES,
  RESTART_CONDITIONS,
  UPDATE_ORDERS,
  UPDATE_STATES,
  wordOf,
} from "../../words.js";

const NS_PER_MS = 1_000_000;

/** Milliseconds as Go's time.Duration in JSON (nanoseconds); undefined stays undefined. */
const ns = (ms: number | undefined) => (ms === undefined ? undefined : ms * NS_PER_MS);
/** Go's omitempty: zero values and empty lists disappear. */
const nz = <T>(v: T): T | undefined => (v ? v : undefined);
const list = <T>(a: readonly T[] | undefined): T[] | undefined => (a && a.length > 0 ? [...a] : undefined);
const sortedMap = (o: Readonly<Record<string, string>> | undefined) => new Map(Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
const optionalMap = (o: Readonly<Record<string, string>> | undefined) => (o && Object.keys(o).length > 0 ? sortedMap(o) : undefined);

function driverView(d: Driver | undefined) {
  return d ? { Name: nz(d.name), Options: optionalMap(d.options) } : undefined;
}

/** A port as docker shows it (PortConfig). */
export function portView(p: PortConfig) {
  return {
    Name: nz(p.name),
    Protocol: wordOf(PORT_PROTOCOLS, p.protocol),
    TargetPort: nz(p.targetPort),
    PublishedPort: nz(p.publishedPort),
    PublishMode: wordOf(PUBLISH_MODES, p.publishMode),
  };
}

function endpointSpecView(e: EndpointSpec | undefined) {
  return e ? { Mode: wordOf(ENDPOINT_MODES, e.mode), Ports: list(e.ports.map(portView)) } : undefined;
}

function mountView(m: Mount) {
  const b = m.bindOptions;
  const v = m.volumeOptions;
  const t = m.tmpfsOptions;
  return {
    Type: wordOf(MOUNT_TYPES, m.type),
    Source: nz(m.source),
    Target: nz(m.target),
    ReadOnly: nz(m.readOnly),
    BindOptions: b
      ? {
          Propagation: wordOf(BIND_PROPAGATIONS, b.propagation),
          NonRecursive: nz(b.nonRecursive),
          CreateMountpoint: nz(b.createMountpoint),
          ReadOnlyNonRecursive: nz(b.readOnlyNonRecursive),
          ReadOnlyForceRecursive: nz(b.readOnlyForceRecursive),
        }
      : undefined,
    VolumeOptions: v ? { NoCopy: nz(v.noCopy), Labels: optionalMap(v.labels), Subpath: nz(v.subpath), DriverConfig: driverView(v.driverConfig) } : undefined,
    TmpfsOptions: t ? { SizeBytes: nz(t.sizeBytes), Mode: nz(t.mode), Options: nz(t.options) } : undefined,
  };
}

function healthView(h: HealthConfig | undefined) {
  return h
    ? {
        Test: list(h.test),
        Interval: nz(ns(h.intervalMs)),
        Timeout: nz(ns(h.timeoutMs)),
        StartPeriod: nz(ns(h.startPeriodMs)),
        StartInterval: nz(ns(h.startIntervalMs)),
        Retries: nz(h.retries),
      }
    : undefined;
}

function containerView(c: ContainerSpec) {
  const file = (f: { name: string; uid: string; gid: string; mode?: number | undefined } | undefined) =>
    f ? { Name: f.name, UID: f.uid, GID: f.gid, Mode: f.mode ?? 0o444 } : undefined;
  return {
    Image: c.image,
    Labels: optionalMap(c.labels),
    Command: list(c.command),
    Args: list(c.args),
    Hostname: nz(c.hostname),
    Env: list(c.env),
    Dir: nz(c.dir),
    User: nz(c.user),
    Groups: list(c.groups),
    Init: c.init,
    StopSignal: nz(c.stopSignal),
    TTY: nz(c.tty),
    OpenStdin: nz(c.openStdin),
    ReadOnly: nz(c.readOnly),
    Mounts: list(c.mounts.map(mountView)),
    StopGracePeriod: ns(c.stopGracePeriodMs),
    Healthcheck: healthView(c.healthcheck),
    Hosts: list(c.hosts),
    DNSConfig: c.dnsConfig ? { Nameservers: list(c.dnsConfig.nameservers), Search: list(c.dnsConfig.search), Options: list(c.dnsConfig.options) } : undefined,
    Secrets: list(c.secrets.map((s) => ({ File: file(s.file), SecretID: s.secretId, SecretName: s.secretName }))),
    Configs: list(c.configs.map((s) => ({ File: file(s.file), ConfigID: s.configId, ConfigName: s.configName }))),
    Isolation: wordOf(ISOLATIONS, c.isolation),
    Sysctls: optionalMap(c.sysctls),
    CapabilityAdd: list(c.capabilityAdd),
    CapabilityDrop: list(c.capabilityDrop),
    Ulimits: list(c.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }))),
    OomScoreAdj: nz(c.oomScoreAdj),
  };
}

function resourcesView(r: Resources | undefined, pids?: number) {
  return r ? { NanoCPUs: nz(r.nanoCpus), MemoryBytes: nz(r.memoryBytes), Pids: nz(pids) } : undefined;
}

function taskView(t: TaskSpec | undefined) {
  const container = t?.runtime?.$case === "container" ? t.runtime.container : undefined;
  const p = t?.placement;
  const r = t?.restart;
  return {
    ContainerSpec: container ? containerView(container) : undefined,
    Resources: t?.resources
      ? { Limits: resourcesView(t.resources.limits, container?.pidsLimit), Reservations: resourcesView(t.resources.reservations) }
      : undefined,
    RestartPolicy: r ? { Condition: wordOf(RESTART_CONDITIONS, r.condition), Delay: ns(r.delayMs), MaxAttempts: r.maxAttempts, Window: nz(ns(r.windowMs)) } : undefined,
    Placement: p
      ? {
          Constraints: list(p.constraints),
          Preferences: list(p.preferences.map((pref) => ({ Spread: { SpreadDescriptor: pref.spread?.spreadDescriptor ?? "" } }))),
          MaxReplicas: nz(p.maxReplicas),
          Platforms: list(p.platforms.map((pl) => ({ Architecture: nz(pl.architecture), OS: nz(pl.os) }))),
        }
      : undefined,
    Networks: list(t?.networks.map((n) => ({ Target: n.target, Aliases: list(n.aliases), DriverOpts: optionalMap(n.driverAttachmentOpts) }))),
    LogDriver: driverView(t?.logDriver),
    ForceUpdate: t?.forceUpdate ?? 0,
    Runtime: t?.runtime?.$case,
  };
}

function updateConfigView(u: UpdateConfig | undefined) {
  return u
    ? {
        Parallelism: u.parallelism,
        Delay: nz(ns(u.delayMs)),
        FailureAction: wordOf(FAILURE_ACTIONS, u.failureAction),
        Monitor: nz(ns(u.monitorMs)),
        MaxFailureRatio: u.maxFailureRatio,
        Order: wordOf(UPDATE_ORDERS, u.order),
      }
    : undefined;
}

function modeView(mode: ServiceSpec["mode"]) {
  return {
    Replicated: mode?.$case === "replicated" ? { Replicas: mode.replicated.replicas } : undefined,
    Global: mode?.$case === "global" ? {} : undefined,
    ReplicatedJob:
      mode?.$case === "replicatedJob" ? { MaxConcurrent: mode.replicatedJob.maxConcurrent, TotalCompletions: mode.replicatedJob.totalCompletions } : undefined,
    GlobalJob: mode?.$case === "globalJob" ? {} : undefined,
  };
}

function specView(spec: ServiceSpec | undefined) {
  return {
    Name: nz(spec?.annotations?.name ?? ""),
    Labels: sortedMap(spec?.annotations?.labels),
    TaskTemplate: taskView(spec?.task),
    Mode: modeView(spec?.mode),
    UpdateConfig: updateConfigView(spec?.update),
    RollbackConfig: updateConfigView(spec?.rollback),
    EndpointSpec: endpointSpecView(spec?.endpoint),
  };
}

/** docker's swarm.Service of a service. */
export function serviceView(svc: Service) {
  const u = svc.updateStatus;
  return {
    ID: svc.id,
    Version: { Index: svc.meta?.version?.index ?? 0 },
    CreatedAt: nz(rfc3339(svc.meta?.createdAtUnixMs ?? 0)),
    UpdatedAt: nz(rfc3339(svc.meta?.updatedAtUnixMs ?? 0)),
    Spec: specView(svc.spec),
    PreviousSpec: svc.previousSpec ? specView(svc.previousSpec) : undefined,
    Endpoint: {
      Spec: endpointSpecView(svc.endpoint?.spec) ?? {},
      Ports: list(svc.endpoint?.ports.map(portView)),
      VirtualIPs: list(svc.endpoint?.virtualIps.map((v) => ({ NetworkID: v.networkId, Addr: v.addr }))),
    },
    UpdateStatus: u
      ? {
          State: nz(wordOf(UPDATE_STATES, u.state) === "unknown" ? "" : wordOf(UPDATE_STATES, u.state)),
          StartedAt: nz(rfc3339(u.startedAtUnixMs)),
          CompletedAt: nz(rfc3339(u.completedAtUnixMs)),
          Message: nz(u.message),
        }
      : undefined,
    JobStatus: svc.jobStatus
      ? { JobIteration: { Index: svc.jobStatus.jobIteration?.index ?? 0 }, LastExecution: nz(rfc3339(svc.jobStatus.lastExecutionUnixMs)) }
      : undefined,
  };
}
