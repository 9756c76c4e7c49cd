// Service specs: the static checks (validateServiceSpec), what may change on update
// (checkServiceUpdate), and the checks against the store (resolveServiceReferences: referenced
// secrets, configs and networks exist, published ports are free).
import type { Network, Secret, Config, Service } from "../../../proto/gen/objects.js";
import type { ContainerSpec, ServiceSpec, TaskSpec } from "../../../proto/gen/specs.js";
import type {
  FileTarget,
  HealthConfig,
  NetworkAttachmentConfig,
  Placement,
  PortConfig,
  RestartPolicy,
  UpdateConfig,
} from "../../../proto/gen/types.js";
import {
  PublishMode,
  RestartCondition,
  SeccompMode,
  UpdateFailureAction,
  UpdateOrder,
} from "../../../proto/gen/types.js";
import { StoreError, StoreErrorCode, type ReadView, type StoreObject } from "../../store/index.js";
import {
  PROTOCOL_NAMES,
  checkAnnotations,
  checkDriverName,
  checkDuration,
  checkEndpointSpec,
  checkEnum,
  checkLabels,
  checkMounts,
  checkNonNegative,
  checkRange,
  checkResourceRequirements,
  invalid,
  isIpAddress,
  parseCidr,
  show,
} from "./common.js";
import { CONSTRAINT_KEYS_HELP, constraintKey, parseConstraint } from "../../../scheduler/index.js";

type Mode = NonNullable<ServiceSpec["mode"]>["$case"];

const MODE_NAMES: Record<Mode, string> = {
  replicated: "replicated",
  global: "global",
  replicatedJob: "replicated_job",
  globalJob: "global_job",
};

const RESTART_CONDITION_NAMES: Record<number, string> = {
  [RestartCondition.RESTART_CONDITION_ANY]: "any",
  [RestartCondition.RESTART_CONDITION_ON_FAILURE]: "on_failure",
  [RestartCondition.RESTART_CONDITION_NONE]: "none",
};
const FAILURE_ACTION_NAMES: Record<number, string> = {
  [UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE]: "pause",
  [UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE]: "continue",
  [UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK]: "rollback",
};
const ORDER_NAMES: Record<number, string> = {
  [UpdateOrder.UPDATE_ORDER_STOP_FIRST]: "stop_first",
  [UpdateOrder.UPDATE_ORDER_START_FIRST]: "start_first",
};
const SECCOMP_NAMES: Record<number, string> = {
  [SeccompMode.SECCOMP_MODE_DEFAULT]: "default",
  [SeccompMode.SECCOMP_MODE_UNCONFINED]: "unconfined",
  [SeccompMode.SECCOMP_MODE_CUSTOM]: "custom",
};

/** The mode's name as users write it ("replicated_job"), or "" when unset. */
export function modeName(spec: ServiceSpec | undefined): string {
  const c = spec?.mode?.$case;
  return c ? MODE_NAMES[c] : "";
}

/** Static checks of a service spec; throws StoreError(INVALID_ARGUMENT) at the first problem. */
export function validateServiceSpec(spec: ServiceSpec | undefined): asserts spec is ServiceSpec {
  if (!spec) throw invalid("spec", undefined, "a service spec is required");
  checkAnnotations(spec.annotations);
  checkMode(spec);
  checkTaskSpec(spec.task, spec);
  checkUpdateConfig(spec.update, "update", false);
  checkUpdateConfig(spec.rollback, "rollback", true);
  checkEndpointSpec(spec.endpoint, "endpoint");
}

function checkMode(spec: ServiceSpec): void {
  const m = spec.mode;
  if (!m) throw invalid("mode", undefined, `one of ${Object.values(MODE_NAMES).join(", ")} is required`);
  if (m.$case === "replicatedJob") {
    const { maxConcurrent, totalCompletions } = m.replicatedJob;
    if (maxConcurrent > 0 && totalCompletions > 0 && maxConcurrent > totalCompletions) {
      throw invalid("mode.replicated_job.max_concurrent", maxConcurrent, `must be <= total_completions (${totalCompletions})`);
    }
  }
}

function checkTaskSpec(task: TaskSpec | undefined, spec: ServiceSpec): void {
  if (!task) throw invalid("task", undefined, "a task template is required");
  const rt = task.runtime;
  if (!rt) throw invalid("task.runtime", undefined, "a container (or generic runtime) is required");
  switch (rt.$case) {
    case "container":
      checkContainer(rt.container, "task.container");
      break;
    case "generic":
      if (rt.generic.kind.length < 3 || ["container", "attachment"].includes(rt.generic.kind.toLowerCase())) {
        throw invalid("task.generic.kind", rt.generic.kind, `must be at least 3 characters and not "container" or "attachment"`);
      }
      if (rt.generic.payload.length === 0) throw invalid("task.generic.payload", undefined, "a generic runtime needs a payload");
      break;
    case "attachment":
      throw invalid("task.runtime", "attachment", "services run a container or a generic runtime; network attachment tasks are made by the cluster");
  }
  checkResourceRequirements(task.resources, "task.resources");
  checkRestartPolicy(task.restart);
  checkPlacement(task.placement, spec);
  if (task.logDriver) checkDriverName("task.log_driver.name", task.logDriver.name, true);
  checkNetworkAttachments(task.networks, "task.networks");
}

function checkRestartPolicy(r: RestartPolicy | undefined): void {
  if (!r) return;
  checkEnum("task.restart.condition", r.condition, RESTART_CONDITION_NAMES);
  checkDuration("task.restart.delay_ms", r.delayMs);
  checkDuration("task.restart.window_ms", r.windowMs);
}

function checkPlacement(p: Placement | undefined, spec: ServiceSpec): void {
  if (!p) return;
  p.constraints.forEach((c, i) => {
    try {
      parseConstraint(c);
    } catch (e) {
      throw invalid(`task.placement.constraints[${i}]`, c, (e as Error).message);
    }
  });
  p.preferences.forEach((pref, i) => {
    const d = pref.spread?.spreadDescriptor ?? "";
    if (constraintKey(d) === null) {
      throw invalid(`task.placement.preferences[${i}].spread.spread_descriptor`, d, `must be ${CONSTRAINT_KEYS_HELP}`);
    }
  });
  const mode = spec.mode?.$case;
  if (p.maxReplicas > 0 && (mode === "global" || mode === "globalJob")) {
    throw invalid("task.placement.max_replicas", p.maxReplicas, `applies to replicated services only; a ${modeName(spec)} service runs one task per node`);
  }
}

function checkUpdateConfig(u: UpdateConfig | undefined, path: "update" | "rollback", isRollback: boolean): void {
  if (!u) return;
  checkDuration(`${path}.delay_ms`, u.delayMs);
  checkDuration(`${path}.monitor_ms`, u.monitorMs);
  if (!(u.maxFailureRatio >= 0 && u.maxFailureRatio <= 1)) {
    throw invalid(`${path}.max_failure_ratio`, u.maxFailureRatio, "must be between 0 and 1");
  }
  checkEnum(`${path}.failure_action`, u.failureAction, FAILURE_ACTION_NAMES);
  if (isRollback && u.failureAction === UpdateFailureAction.UPDATE_FAILURE_ACTION_ROLLBACK) {
    throw invalid(`${path}.failure_action`, "rollback", "a rollback's failure action must be pause or continue");
  }
  checkEnum(`${path}.order`, u.order, ORDER_NAMES);
}

// ---- containers ----

const DOMAIN = "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?";
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const IMAGE_RE = new RegExp(`^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`);

/** Docker's reference grammar: [REGISTRY[:PORT]/]NAME[:TAG][@DIGEST], NAME in lower case. */
export function isImageReference(image: string): boolean {
  if (image.length > 512 || !IMAGE_RE.test(image)) return false;
  const slash = image.indexOf("/");
  if (slash < 0) return true;
  const first = image.slice(0, slash);
  // Only a first part that looks like a registry (a dot, a port or localhost) may have capitals.
  return first === first.toLowerCase() || first.includes(".") || first.includes(":");
}

const SIGNAL_RE = /^(?:(?:SIG)?[A-Z][A-Z0-9]*(?:[+-][0-9]+)?|[1-9][0-9]*)$/i;
const CAPABILITY_RE = /^(?:ALL|(?:CAP_)?[A-Z][A-Z_]*)$/i;
const ULIMIT_RE = /^[a-z]+$/;

function checkContainer(c: ContainerSpec, path: string): void {
  if (c.image === "") throw invalid(`${path}.image`, "", "an image is required");
  if (!isImageReference(c.image)) {
    throw invalid(`${path}.image`, c.image, "not an image reference: [REGISTRY/]NAME[:TAG][@DIGEST] with NAME in lower case");
  }
  checkLabels(c.labels, `${path}.labels`);
  c.env.forEach((e, i) => {
    const name = e.split("=", 1)[0]!;
    if (name === "" || /\s/.test(name)) throw invalid(`${path}.env[${i}]`, e, "must be NAME=value (or NAME), NAME without spaces");
  });
  if (c.dir !== "" && !c.dir.startsWith("/")) throw invalid(`${path}.dir`, c.dir, "must be an absolute path");
  if (c.stopSignal !== "" && !SIGNAL_RE.test(c.stopSignal)) {
    throw invalid(`${path}.stop_signal`, c.stopSignal, `must be a signal name ("SIGTERM", "TERM") or number ("15")`);
  }
  checkDuration(`${path}.stop_grace_period_ms`, c.stopGracePeriodMs);
  checkMounts(c.mounts, `${path}.mounts`);
  checkHealth(c.healthcheck, `${path}.healthcheck`);
  c.hosts.forEach((h, i) => {
    const fields = h.trim().split(/\s+/);
    if (fields.length < 2 || !isIpAddress(fields[0]!)) throw invalid(`${path}.hosts[${i}]`, h, `must be "IP HOSTNAME [ALIAS…]"`);
  });
  c.dnsConfig?.nameservers.forEach((ns, i) => {
    if (!isIpAddress(ns)) throw invalid(`${path}.dns_config.nameservers[${i}]`, ns, "must be an IP address");
  });
  checkFileTargets(c.secrets, `${path}.secrets`, "secret", (r) => r.secretName || r.secretId);
  checkFileTargets(c.configs, `${path}.configs`, "config", (r) => r.configName || r.configId);
  checkNonNegative(`${path}.pids_limit`, c.pidsLimit);
  for (const key of Object.keys(c.sysctls)) {
    if (key === "" || /\s/.test(key)) throw invalid(`${path}.sysctls key`, key, "must be a kernel parameter name (net.core.somaxconn)");
  }
  for (const [field, caps] of [["capability_add", c.capabilityAdd], ["capability_drop", c.capabilityDrop]] as const) {
    caps.forEach((cap, i) => {
      if (!CAPABILITY_RE.test(cap)) throw invalid(`${path}.${field}[${i}]`, cap, `must be a capability name ("CAP_NET_ADMIN", "NET_ADMIN") or "ALL"`);
    });
  }
  c.ulimits.forEach((u, i) => {
    const p = `${path}.ulimits[${i}]`;
    if (!ULIMIT_RE.test(u.name)) throw invalid(`${p}.name`, u.name, `must be a resource name in lower case without RLIMIT_ ("nofile")`);
    if (u.soft < -1) throw invalid(`${p}.soft`, u.soft, "must be -1 (unlimited) or >= 0");
    if (u.hard < -1) throw invalid(`${p}.hard`, u.hard, "must be -1 (unlimited) or >= 0");
    if (u.hard !== -1 && (u.soft === -1 || u.soft > u.hard)) throw invalid(`${p}.soft`, u.soft, `must be <= hard (${u.hard})`);
  });
  checkRange(`${path}.oom_score_adj`, c.oomScoreAdj, -1000, 1000, "must be -1000..1000");
  const seccomp = c.privileges?.seccomp;
  if (seccomp) {
    checkEnum(`${path}.privileges.seccomp.mode`, seccomp.mode, SECCOMP_NAMES);
    if (seccomp.mode === SeccompMode.SECCOMP_MODE_CUSTOM && seccomp.profile.length === 0) {
      throw invalid(`${path}.privileges.seccomp.profile`, undefined, "the custom seccomp mode needs a profile");
    }
    if (seccomp.mode !== SeccompMode.SECCOMP_MODE_CUSTOM && seccomp.profile.length > 0) {
      throw invalid(`${path}.privileges.seccomp.profile`, undefined, "a profile is only used by the custom seccomp mode");
    }
  }
}

function checkHealth(h: HealthConfig | undefined, path: string): void {
  if (!h) return;
  const [kind, ...rest] = h.test;
  if (kind !== undefined) {
    if (kind === "NONE") {
      if (rest.length > 0) throw invalid(`${path}.test`, h.test.join(" "), `"NONE" takes no arguments`);
    } else if (kind === "CMD") {
      if (rest.length === 0) throw invalid(`${path}.test`, kind, `"CMD" needs a command: ["CMD", "executable", args…]`);
    } else if (kind === "CMD-SHELL") {
      if (rest.length !== 1) throw invalid(`${path}.test`, h.test.join(" "), `"CMD-SHELL" takes exactly one command string`);
    } else {
      throw invalid(`${path}.test[0]`, kind, `must be "NONE", "CMD" or "CMD-SHELL" (empty = the image's check)`);
    }
  }
  checkDuration(`${path}.interval_ms`, h.intervalMs);
  checkDuration(`${path}.timeout_ms`, h.timeoutMs);
  checkDuration(`${path}.start_period_ms`, h.startPeriodMs);
  checkDuration(`${path}.start_interval_ms`, h.startIntervalMs);
  checkNonNegative(`${path}.retries`, h.retries);
}

/** Secret or config references: each names its object and a file target used once. */
function checkFileTargets<R extends { file: FileTarget | undefined }>(
  refs: R[],
  path: string,
  kind: "secret" | "config",
  nameOf: (r: R) => string,
): void {
  const seen = new Map<string, number>();
  refs.forEach((r, i) => {
    const p = `${path}[${i}]`;
    if (nameOf(r) === "") throw invalid(p, undefined, `a ${kind}_id or ${kind}_name is required`);
    const f = r.file;
    if (!f || f.name === "") throw invalid(`${p}.file.name`, "", `a target file name is required`);
    if (f.name.split("/").includes("..") || f.name.includes("\0")) throw invalid(`${p}.file.name`, f.name, `must not contain ".." or NUL`);
    const prev = seen.get(f.name);
    if (prev !== undefined) throw invalid(`${p}.file.name`, f.name, `${kind}s[${prev}] already uses that file; each target may be used once`);
    seen.set(f.name, i);
    if (f.uid !== "" && !/^\d+$/.test(f.uid)) throw invalid(`${p}.file.uid`, f.uid, "must be a numeric uid");
    if (f.gid !== "" && !/^\d+$/.test(f.gid)) throw invalid(`${p}.file.gid`, f.gid, "must be a numeric gid");
    if (f.mode !== undefined) checkRange(`${p}.file.mode`, f.mode, 0, 0o7777, "must be a file mode, 0..07777");
  });
}

function checkNetworkAttachments(nets: NetworkAttachmentConfig[], path: string): void {
  nets.forEach((n, i) => {
    const p = `${path}[${i}]`;
    if (n.target === "") throw invalid(`${p}.target`, "", "a network id or name is required");
    n.addresses.forEach((a, j) => {
      if (!parseCidr(a)) throw invalid(`${p}.addresses[${j}]`, a, "must be an address with its prefix length (10.0.1.5/24)");
    });
  });
}

// ---- updates ----

/** What an update may not change: the name and the mode. */
export function checkServiceUpdate(current: Service, next: ServiceSpec): void {
  const name = current.spec?.annotations?.name ?? "";
  const nextName = next.annotations?.name ?? "";
  if (nextName !== name) throw invalid("name", nextName, `a service cannot be renamed (it is ${show(name)})`);
  const mode = modeName(current.spec);
  if (modeName(next) !== mode) {
    throw invalid("mode", modeName(next), `service ${show(name)} is ${mode} and its mode cannot change; remove it and create it again`);
  }
}

// ---- references to other objects ----

/** Resolves `ref` as an id, unique id prefix or name; an invalid-argument error at `path` otherwise. */
function resolveRef(view: ReadView, kind: "secret" | "config" | "network", ref: string, path: string): StoreObject {
  try {
    return view.resolve(kind, ref);
  } catch (e) {
    if (e instanceof StoreError && e.code === StoreErrorCode.NotFound) throw invalid(path, ref, `no such ${kind}`);
    if (e instanceof StoreError) throw invalid(path, ref, e.message);
    throw e;
  }
}

/**
 * Checks a validated spec against the store and completes its references in place: each secret and
 * config reference gets both id and name, each network target becomes the network's id. Refuses
 * references to missing objects, the ingress network, and published ports another service holds.
 * `serviceId` is the service being updated (its own ports do not conflict).
 */
export function resolveServiceReferences(spec: ServiceSpec, view: ReadView, serviceId?: string): void {
  const task = spec.task!;
  const rt = task.runtime;
  if (rt?.$case === "container") {
    rt.container.secrets.forEach((r, i) => {
      const field = r.secretId ? "secret_id" : "secret_name";
      const s = resolveRef(view, "secret", r.secretId || r.secretName, `task.container.secrets[${i}].${field}`) as unknown as Secret;
      r.secretId = s.id;
      r.secretName = s.spec?.annotations?.name ?? "";
    });
    rt.container.configs.forEach((r, i) => {
      const field = r.configId ? "config_id" : "config_name";
      const c = resolveRef(view, "config", r.configId || r.configName, `task.container.configs[${i}].${field}`) as unknown as Config;
      r.configId = c.id;
      r.configName = c.spec?.annotations?.name ?? "";
    });
  }
  const attached = new Map<string, number>();
  task.networks.forEach((n, i) => {
    const path = `task.networks[${i}].target`;
    const net = resolveRef(view, "network", n.target, path) as unknown as Network;
    const name = net.spec?.annotations?.name ?? net.id;
    if (net.spec?.ingress) {
      throw invalid(path, n.target, `${show(name)} is the ingress network: services reach it by publishing ports, not by attaching to it`);
    }
    if (net.pendingDelete) throw invalid(path, n.target, `network ${show(name)} is being removed`);
    const prev = attached.get(net.id);
    if (prev !== undefined) throw invalid(path, n.target, `the service is already attached to network ${show(name)} (task.networks[${prev}])`);
    attached.set(net.id, i);
    n.target = net.id;
  });
  checkPortConflicts(spec, view, serviceId);
}

/**
 * An ingress-mode port is published on every node, so it conflicts with any other service's port
 * on the same number and protocol; host-mode ports conflict only with ingress-mode ones (the
 * scheduler keeps host-mode tasks apart).
 */
function checkPortConflicts(spec: ServiceSpec, view: ReadView, serviceId: string | undefined): void {
  const ports = spec.endpoint?.ports ?? [];
  if (!ports.some((p) => p.publishedPort !== 0)) return;
  const key = (p: PortConfig): string => `${p.publishedPort}/${PROTOCOL_NAMES[p.protocol]}`;
  const taken = new Map<string, { ingress: boolean; service: Service }>();
  for (const o of view.list("service")) {
    if (o.id === serviceId) continue;
    const other = o as unknown as Service;
    for (const p of [...(other.spec?.endpoint?.ports ?? []), ...(other.endpoint?.ports ?? [])]) {
      if (p.publishedPort === 0) continue;
      const ingress = p.publishMode === PublishMode.PUBLISH_MODE_INGRESS;
      if (!taken.get(key(p))?.ingress) taken.set(key(p), { ingress, service: other });
    }
  }
  ports.forEach((p, i) => {
    if (p.publishedPort === 0) return;
    const holder = taken.get(key(p));
    if (!holder) return;
    if (holder.ingress || p.publishMode === PublishMode.PUBLISH_MODE_INGRESS) {
      const name = holder.service.spec?.annotations?.name ?? "";
      throw invalid(`endpoint.ports[${i}].published_port`, p.publishedPort, `port ${key(p)} is already published by service ${show(name)} (${holder.service.id})`);
    }
  });
}
