// Checks shared by every spec kind: names, labels, durations, resources, mounts, ports, addresses
// and object sizes. Every failure is a StoreError(INVALID_ARGUMENT) whose message names the field
// path, the bad value and what is allowed, docker-style:
//   invalid endpoint.ports[0].target_port "0": must be 1..65535
import { BlockList, isIP } from "node:net";
import type {
  EndpointSpec,
  Mount,
  ResourceRequirements,
  Resources,
  Annotations,
} from "../../../proto/gen/types.js";
import {
  EndpointMode,
  MountType,
  PortProtocol,
  PublishMode,
  BindPropagation,
} from "../../../proto/gen/types.js";
import { StoreError, StoreErrorCode } from "../../store/index.js";

/** Longest name of a service, network, secret, config or node. */
export const MAX_NAME_LENGTH = 63;
/** Largest secret or config value (docker's limit). */
export const MAX_DATA_BYTES = 500 * 1024;
/** Largest encoded object the control API writes. */
export const MAX_OBJECT_BYTES = 1024 * 1024;

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const SHOWN_VALUE_CHARS = 80;

/** A value as shown in an error: always quoted, cut when long. */
export function show(value: unknown): string {
  let s = String(value);
  if (s.length > SHOWN_VALUE_CHARS) s = `${s.slice(0, SHOWN_VALUE_CHARS)}…`;
  return JSON.stringify(s);
}

/** `invalid PATH "VALUE": ALLOWED` (or `invalid PATH: ALLOWED` when there is no value to show). */
export function invalid(path: string, value: unknown, allowed: string): StoreError {
  const v = value === undefined ? "" : ` ${show(value)}`;
  return new StoreError(StoreErrorCode.InvalidArgument, `invalid ${path}${v}: ${allowed}`);
}

/** "a", "a or b", "a, b or c". */
export function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

/** Throws unless `value` is one of `names`' keys; the message lists the names. */
export function checkEnum(path: string, value: number, names: Readonly<Record<number, string>>): void {
  if (!Object.hasOwn(names, value)) throw invalid(path, value, `must be ${orList(Object.values(names))}`);
}

/** Names shown for enum values (and accepted by checkEnum). */
export const PROTOCOL_NAMES: Record<number, string> = {
  [PortProtocol.PORT_PROTOCOL_TCP]: "tcp",
  [PortProtocol.PORT_PROTOCOL_UDP]: "udp",
  [PortProtocol.PORT_PROTOCOL_SCTP]: "sctp",
};
const PUBLISH_MODE_NAMES: Record<number, string> = {
  [PublishMode.PUBLISH_MODE_INGRESS]: "ingress",
  [PublishMode.PUBLISH_MODE_HOST]: "host",
};
const ENDPOINT_MODE_NAMES: Record<number, string> = {
  [EndpointMode.ENDPOINT_MODE_VIP]: "vip",
  [EndpointMode.ENDPOINT_MODE_DNSRR]: "dnsrr",
};
const MOUNT_TYPE_NAMES: Record<number, string> = {
  [MountType.MOUNT_TYPE_BIND]: "bind",
  [MountType.MOUNT_TYPE_VOLUME]: "volume",
  [MountType.MOUNT_TYPE_TMPFS]: "tmpfs",
};
const PROPAGATION_NAMES: Record<number, string> = {
  [BindPropagation.BIND_PROPAGATION_RPRIVATE]: "rprivate",
  [BindPropagation.BIND_PROPAGATION_PRIVATE]: "private",
  [BindPropagation.BIND_PROPAGATION_RSHARED]: "rshared",
  [BindPropagation.BIND_PROPAGATION_SHARED]: "shared",
  [BindPropagation.BIND_PROPAGATION_RSLAVE]: "rslave",
  [BindPropagation.BIND_PROPAGATION_SLAVE]: "slave",
};

// ---- names and labels ----

/** Names of services, networks, secrets, configs and nodes. */
export function checkName(name: string, path = "name", required = true): void {
  if (name === "") {
    if (required) throw invalid(path, name, "a name is required");
    return;
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw invalid(path, name, `names must be at most ${MAX_NAME_LENGTH} characters (this one has ${name.length})`);
  }
  if (!NAME_RE.test(name)) {
    throw invalid(path, name, `names must start with a letter or digit and contain only letters, digits, "_", "." and "-"`);
  }
}

/** Label keys: non-empty, no "=" (label filters are "key" or "key=value"). */
export function checkLabels(labels: Record<string, string> | undefined, path = "labels"): void {
  for (const key of Object.keys(labels ?? {})) {
    if (key === "" || key.includes("=")) throw invalid(`${path} key`, key, `label keys must not be empty or contain "="`);
  }
}

/** A spec's annotations: a valid name (required unless told) and valid labels. */
export function checkAnnotations(a: Annotations | undefined, required = true): void {
  checkName(a?.name ?? "", "name", required);
  checkLabels(a?.labels);
}

// ---- numbers and durations ----

export function checkNonNegative(path: string, value: number): void {
  if (!(value >= 0)) throw invalid(path, value, "must be >= 0");
}

/** A duration in milliseconds: >= 0. An unset optional duration passes. */
export function checkDuration(path: string, ms: number | undefined): void {
  if (ms !== undefined) checkNonNegative(path, ms);
}

export function checkRange(path: string, value: number, min: number, max: number, allowed = `must be ${min}..${max}`): void {
  if (!(value >= min && value <= max)) throw invalid(path, value, allowed);
}

// ---- resources ----

const MIN_NANO_CPUS = 1_000_000;
const MIN_MEMORY_BYTES = 4 * 1024 * 1024;

function checkResources(r: Resources | undefined, path: string): void {
  if (!r) return;
  checkNonNegative(`${path}.nano_cpus`, r.nanoCpus);
  if (r.nanoCpus !== 0 && r.nanoCpus < MIN_NANO_CPUS) {
    throw invalid(`${path}.nano_cpus`, r.nanoCpus, `must be 0 (none) or at least ${MIN_NANO_CPUS} (0.001 CPU)`);
  }
  checkNonNegative(`${path}.memory_bytes`, r.memoryBytes);
  if (r.memoryBytes !== 0 && r.memoryBytes < MIN_MEMORY_BYTES) {
    throw invalid(`${path}.memory_bytes`, r.memoryBytes, `must be 0 (none) or at least ${MIN_MEMORY_BYTES} (4 MiB)`);
  }
  r.generic.forEach((g, i) => {
    const p = `${path}.generic[${i}]`;
    const res = g.resource;
    if (!res) throw invalid(p, undefined, "a named or discrete resource is required");
    const kind = res.$case === "named" ? res.named.kind : res.discrete.kind;
    if (kind === "") throw invalid(`${p}.${res.$case}.kind`, kind, "a resource kind is required");
    if (res.$case === "discrete") checkNonNegative(`${p}.discrete.value`, res.discrete.value);
    if (res.$case === "named" && res.named.value === "") {
      throw invalid(`${p}.named.value`, "", "a named resource needs a value");
    }
  });
}

/** Limits and reservations: each sane, and no reservation above its limit. */
export function checkResourceRequirements(r: ResourceRequirements | undefined, path: string): void {
  if (!r) return;
  checkResources(r.limits, `${path}.limits`);
  checkResources(r.reservations, `${path}.reservations`);
  const lim = r.limits;
  const res = r.reservations;
  if (lim && res) {
    if (lim.nanoCpus !== 0 && res.nanoCpus > lim.nanoCpus) {
      throw invalid(`${path}.reservations.nano_cpus`, res.nanoCpus, `must be <= limits.nano_cpus (${lim.nanoCpus})`);
    }
    if (lim.memoryBytes !== 0 && res.memoryBytes > lim.memoryBytes) {
      throw invalid(`${path}.reservations.memory_bytes`, res.memoryBytes, `must be <= limits.memory_bytes (${lim.memoryBytes})`);
    }
  }
  if (r.swapBytes !== undefined && r.swapBytes < -1) {
    throw invalid(`${path}.swap_bytes`, r.swapBytes, "must be -1 (unlimited) or >= 0");
  }
  if (r.memorySwappiness !== undefined) checkRange(`${path}.memory_swappiness`, r.memorySwappiness, 0, 100);
}

// ---- mounts ----

export function isAbsolutePath(p: string): boolean {
  return p.startsWith("/");
}

/** Mounts of a container: absolute targets, each once; sources and options that fit the type. */
export function checkMounts(mounts: Mount[], path: string): void {
  const targets = new Map<string, number>();
  mounts.forEach((m, i) => {
    const p = `${path}[${i}]`;
    checkEnum(`${p}.type`, m.type, MOUNT_TYPE_NAMES);
    if (!isAbsolutePath(m.target)) throw invalid(`${p}.target`, m.target, "must be an absolute path");
    const target = m.target.length > 1 ? m.target.replace(/\/+$/, "") : m.target;
    const prev = targets.get(target);
    if (prev !== undefined) throw invalid(`${p}.target`, m.target, `mounts[${prev}] already mounts there; each target may be used once`);
    targets.set(target, i);
    const type = MOUNT_TYPE_NAMES[m.type]!;
    if (m.bindOptions && m.type !== MountType.MOUNT_TYPE_BIND) throw invalid(`${p}.bind_options`, undefined, `only bind mounts take bind options, not ${type}`);
    if (m.volumeOptions && m.type !== MountType.MOUNT_TYPE_VOLUME) throw invalid(`${p}.volume_options`, undefined, `only volume mounts take volume options, not ${type}`);
    if (m.tmpfsOptions && m.type !== MountType.MOUNT_TYPE_TMPFS) throw invalid(`${p}.tmpfs_options`, undefined, `only tmpfs mounts take tmpfs options, not ${type}`);
    switch (m.type) {
      case MountType.MOUNT_TYPE_BIND:
        if (!isAbsolutePath(m.source)) throw invalid(`${p}.source`, m.source, "a bind mount's source must be an absolute host path");
        if (m.bindOptions) checkEnum(`${p}.bind_options.propagation`, m.bindOptions.propagation, PROPAGATION_NAMES);
        if (m.bindOptions && (m.bindOptions.readOnlyNonRecursive || m.bindOptions.readOnlyForceRecursive) && !m.readOnly) {
          throw invalid(`${p}.bind_options`, undefined, "read_only_non_recursive and read_only_force_recursive need read_only");
        }
        break;
      case MountType.MOUNT_TYPE_VOLUME:
        if (m.source !== "" && !NAME_RE.test(m.source)) {
          throw invalid(`${p}.source`, m.source, `volume names start with a letter or digit and contain only letters, digits, "_", "." and "-"`);
        }
        if (m.source === "" && m.readOnly) throw invalid(`${p}.read_only`, "true", "an anonymous volume (no source) cannot be read-only");
        if (m.volumeOptions?.driverConfig) checkDriverName(`${p}.volume_options.driver_config.name`, m.volumeOptions.driverConfig.name, false);
        break;
      case MountType.MOUNT_TYPE_TMPFS:
        if (m.source !== "") throw invalid(`${p}.source`, m.source, "a tmpfs mount has no source");
        if (m.readOnly) throw invalid(`${p}.read_only`, "true", "a tmpfs mount cannot be read-only");
        if (m.tmpfsOptions) {
          checkNonNegative(`${p}.tmpfs_options.size_bytes`, m.tmpfsOptions.sizeBytes);
          checkRange(`${p}.tmpfs_options.mode`, m.tmpfsOptions.mode, 0, 0o7777, "must be a file mode, 0..07777");
        }
        break;
    }
  });
}

// ---- drivers ----

const DRIVER_RE = /^[a-zA-Z0-9][a-zA-Z0-9_./:-]*$/;

/** A driver or plugin name ("overlay", "vendor/plugin:tag"). */
export function checkDriverName(path: string, name: string, required: boolean): void {
  if (name === "") {
    if (required) throw invalid(path, name, "a driver name is required");
    return;
  }
  if (name.length > 255 || !DRIVER_RE.test(name)) {
    throw invalid(path, name, `driver names start with a letter or digit and contain only letters, digits, "_", ".", "/", ":" and "-"`);
  }
}

// ---- ports ----

/** An endpoint: a known mode; ports in range, each published port+protocol once; dnsrr only with host-mode ports. */
export function checkEndpointSpec(ep: EndpointSpec | undefined, path: string): void {
  if (!ep) return;
  checkEnum(`${path}.mode`, ep.mode, ENDPOINT_MODE_NAMES);
  const published = new Map<string, number>();
  ep.ports.forEach((port, i) => {
    const p = `${path}.ports[${i}]`;
    checkRange(`${p}.target_port`, port.targetPort, 1, 65535);
    checkRange(`${p}.published_port`, port.publishedPort, 0, 65535, "must be 0 (allocated) or 1..65535");
    checkEnum(`${p}.protocol`, port.protocol, PROTOCOL_NAMES);
    checkEnum(`${p}.publish_mode`, port.publishMode, PUBLISH_MODE_NAMES);
    if (ep.mode === EndpointMode.ENDPOINT_MODE_DNSRR && port.publishMode === PublishMode.PUBLISH_MODE_INGRESS) {
      throw invalid(`${p}.publish_mode`, "ingress", "the dnsrr endpoint mode allows only host-mode published ports");
    }
    if (port.publishedPort === 0) return;
    const key = `${port.publishedPort}/${PROTOCOL_NAMES[port.protocol]}`;
    const prev = published.get(key);
    if (prev !== undefined) throw invalid(`${p}.published_port`, port.publishedPort, `port ${key} is already published by ports[${prev}]`);
    published.set(key, i);
  });
}

// ---- addresses ----

export interface Cidr {
  addr: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** Parses "10.0.1.0/24" or "fd00::/64"; null when malformed. */
export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf("/");
  if (slash < 0) return null;
  const addr = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  const v = isIP(addr);
  if (v === 0 || !/^\d{1,3}$/.test(bits)) return null;
  const prefix = Number(bits);
  if (prefix > (v === 4 ? 32 : 128)) return null;
  return { addr, prefix, family: v === 4 ? "ipv4" : "ipv6" };
}

/** Whether `ip` (a bare address) lies in `cidr`. */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  const v = isIP(ip);
  if (v === 0 || (v === 4) !== (cidr.family === "ipv4")) return false;
  const list = new BlockList();
  list.addSubnet(cidr.addr, cidr.prefix, cidr.family);
  return list.check(ip, cidr.family);
}

/** Whether `inner` lies wholly within `outer`. */
export function cidrWithin(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.addr);
}

/** Whether two CIDRs share any address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && (cidrContains(a, b.addr) || cidrContains(b, a.addr));
}

export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0;
}

// ---- sizes ----

/** Refuses an object whose encoding is over the limit (it is refused whole, never truncated). */
export function checkObjectSize(kind: string, name: string, bytes: number, limit = MAX_OBJECT_BYTES): void {
  if (bytes > limit) {
    throw new StoreError(
      StoreErrorCode.InvalidArgument,
      `${kind} ${show(name)} is too large: ${bytes} bytes encoded, over the limit of ${limit} bytes (${formatBytes(limit)}); nothing was written`,
    );
  }
}

/** "500 KiB", "1 MiB", "1000 bytes". */
export function formatBytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

// ---- updates of objects whose spec is fixed but for labels ----

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** JSON with object keys sorted, so maps compare by content. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/**
 * Refuses an update of a network, secret or config that changes anything but its labels. `toJSON`
 * is the spec's generated converter (it omits defaults, so absent and empty compare equal).
 */
export function checkOnlyLabelsChange<S extends { annotations?: Annotations | undefined }>(
  kind: string,
  toJSON: (s: S) => unknown,
  current: S,
  next: S,
): void {
  const name = current.annotations?.name ?? "";
  const nextName = next.annotations?.name ?? "";
  if (nextName !== name) throw invalid("name", nextName, `a ${kind} cannot be renamed (it is ${show(name)}); only its labels can change`);
  const a = toJSON(current) as Record<string, unknown>;
  const b = toJSON(next) as Record<string, unknown>;
  for (const field of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (field === "annotations") continue;
    if (stableJson(a[field]) !== stableJson(b[field])) {
      throw invalid(snake(field), undefined, `only the labels of a ${kind} can be updated; remove the ${kind} and create it again to change anything else`);
    }
  }
}
