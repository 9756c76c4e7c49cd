// Network specs: a valid name that is not a predefined network, a driver, a consistent IPAM
// configuration, and the rules of the ingress network (at most one, overlay, swarm scope).
import type { Network } from "../../../proto/gen/objects.js";
import type { NetworkSpec } from "../../../proto/gen/specs.js";
import { IPAMFamily, NetworkScope } from "../../../proto/gen/types.js";
import { StoreError, StoreErrorCode, type ReadView } from "../../store/index.js";
import {
  checkAnnotations,
  checkDriverName,
  checkEnum,
  checkName,
  cidrContains,
  cidrWithin,
  cidrsOverlap,
  invalid,
  parseCidr,
  show,
  type Cidr,
} from "./common.js";

/** Names of the engine's own networks, which exist on every node and cannot be created. */
export const PREDEFINED_NETWORKS = ["bridge", "host", "none"] as const;

const SCOPE_NAMES: Record<number, string> = {
  [NetworkScope.NETWORK_SCOPE_SWARM]: "swarm",
  [NetworkScope.NETWORK_SCOPE_LOCAL]: "local",
};
const FAMILY_NAMES: Record<number, string> = {
  [IPAMFamily.IPAM_FAMILY_UNKNOWN]: "unknown",
  [IPAMFamily.IPAM_FAMILY_IPV4]: "ipv4",
  [IPAMFamily.IPAM_FAMILY_IPV6]: "ipv6",
};

/** Static checks of a network spec; throws StoreError(INVALID_ARGUMENT) at the first problem. */
export function validateNetworkSpec(spec: NetworkSpec | undefined): asserts spec is NetworkSpec {
  if (!spec) throw invalid("spec", undefined, "a network spec is required");
  checkAnnotations(spec.annotations);
  const name = spec.annotations!.name;
  if ((PREDEFINED_NETWORKS as readonly string[]).includes(name)) {
    throw invalid("name", name, `${PREDEFINED_NETWORKS.map((n) => `"${n}"`).join(", ")} are predefined networks and cannot be created`);
  }
  const driver = spec.driverConfig?.name ?? "";
  checkDriverName("driver_config.name", driver, false);
  checkEnum("scope", spec.scope, SCOPE_NAMES);
  if (spec.ingress) {
    if (driver !== "" && driver !== "overlay") throw invalid("driver_config.name", driver, `the ingress network's driver must be "overlay"`);
    if (spec.scope !== NetworkScope.NETWORK_SCOPE_SWARM) throw invalid("scope", "local", "the ingress network must have swarm scope");
    if (spec.attachable) throw invalid("attachable", "true", "the ingress network cannot be attachable");
    if (spec.internal) throw invalid("internal", "true", "the ingress network cannot be internal: it carries traffic from outside");
  }
  if (spec.configFrom !== "") checkName(spec.configFrom, "config_from");
  checkIpam(spec);
}

function checkIpam(spec: NetworkSpec): void {
  const ipam = spec.ipam;
  if (!ipam) return;
  if (ipam.driver) checkDriverName("ipam.driver.name", ipam.driver.name, false);
  const subnets: { cidr: Cidr; index: number }[] = [];
  ipam.configs.forEach((c, i) => {
    const p = `ipam.configs[${i}]`;
    checkEnum(`${p}.family`, c.family, FAMILY_NAMES);
    if (c.subnet === "") {
      if (c.range !== "" || c.gateway !== "" || Object.keys(c.reserved).length > 0) {
        throw invalid(`${p}.subnet`, "", "a subnet is required when range, gateway or reserved addresses are given");
      }
      return;
    }
    const subnet = parseCidr(c.subnet);
    if (!subnet) throw invalid(`${p}.subnet`, c.subnet, "must be a CIDR (10.0.1.0/24 or fd00:1::/64)");
    const family = subnet.family === "ipv4" ? IPAMFamily.IPAM_FAMILY_IPV4 : IPAMFamily.IPAM_FAMILY_IPV6;
    if (c.family !== IPAMFamily.IPAM_FAMILY_UNKNOWN && c.family !== family) {
      throw invalid(`${p}.family`, FAMILY_NAMES[c.family], `the subnet ${c.subnet} is ${subnet.family}`);
    }
    if (subnet.family === "ipv6" && !spec.ipv6Enabled) throw invalid(`${p}.subnet`, c.subnet, "an IPv6 subnet needs ipv6_enabled");
    if (c.range !== "") {
      const range = parseCidr(c.range);
      if (!range) throw invalid(`${p}.range`, c.range, "must be a CIDR within the subnet");
      if (!cidrWithin(subnet, range)) throw invalid(`${p}.range`, c.range, `must lie within the subnet ${c.subnet}`);
    }
    if (c.gateway !== "" && !cidrContains(subnet, c.gateway)) {
      throw invalid(`${p}.gateway`, c.gateway, `must be an address within the subnet ${c.subnet}`);
    }
    for (const [name, addr] of Object.entries(c.reserved)) {
      if (!cidrContains(subnet, addr)) throw invalid(`${p}.reserved[${name}]`, addr, `must be an address within the subnet ${c.subnet}`);
    }
    const clash = subnets.find((s) => cidrsOverlap(s.cidr, subnet));
    if (clash) throw invalid(`${p}.subnet`, c.subnet, `overlaps ipam.configs[${clash.index}].subnet (${ipam.configs[clash.index]!.subnet})`);
    subnets.push({ cidr: subnet, index: i });
  });
}

/** Refuses a second ingress network (ALREADY_EXISTS). `networkId` is the network being updated. */
export function checkNetworkConflicts(spec: NetworkSpec, view: ReadView, networkId?: string): void {
  if (!spec.ingress) return;
  for (const o of view.list("network")) {
    const n = o as unknown as Network;
    if (n.id !== networkId && n.spec?.ingress) {
      throw new StoreError(
        StoreErrorCode.AlreadyExists,
        `an ingress network already exists: ${show(n.spec.annotations?.name ?? "")} (${n.id}); there can be only one`,
      );
    }
  }
}
