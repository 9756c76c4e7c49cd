// Network specs: each bad spec is refused with its exact message; good specs pass; one ingress network.
import { describe, expect, it } from "vitest";
import { Network } from "../../../proto/gen/objects.js";
import { NetworkSpec } from "../../../proto/gen/specs.js";
import { IPAMFamily, NetworkScope } from "../../../proto/gen/types.js";
import type { StoreObject } from "../../store/index.js";
import { checkNetworkConflicts, validateNetworkSpec } from "./network.js";
import { expectError, newStore } from "../test-support.js";

const base = (): NetworkSpec => NetworkSpec.fromPartial({ annotations: { name: "front" }, driverConfig: { name: "overlay" } });

function ipam(...configs: Partial<{ family: number; subnet: string; range: string; gateway: string; reserved: Record<string, string> }>[]) {
  return { driver: undefined, configs: configs.map((c) => ({ family: 0, subnet: "", range: "", gateway: "", reserved: {}, ...c })) };
}

type Case = [what: string, mutate: (s: NetworkSpec) => void, message: string];

const BAD: Case[] = [
  ["no name", (s) => (s.annotations!.name = ""), `invalid name "": a name is required`],
  ["a predefined name", (s) => (s.annotations!.name = "host"), `invalid name "host": "bridge", "host", "none" are predefined networks and cannot be created`],
  [
    "a driver name with a space",
    (s) => (s.driverConfig!.name = "my driver"),
    `invalid driver_config.name "my driver": driver names start with a letter or digit and contain only letters, digits, "_", ".", "/", ":" and "-"`,
  ],
  ["an unknown scope", (s) => (s.scope = 5 as NetworkScope), `invalid scope "5": must be swarm or local`],
  ["an ingress bridge", (s) => ((s.ingress = true), (s.driverConfig!.name = "bridge")), `invalid driver_config.name "bridge": the ingress network's driver must be "overlay"`],
  ["a local ingress", (s) => ((s.ingress = true), (s.scope = NetworkScope.NETWORK_SCOPE_LOCAL)), `invalid scope "local": the ingress network must have swarm scope`],
  ["an attachable ingress", (s) => ((s.ingress = true), (s.attachable = true)), `invalid attachable "true": the ingress network cannot be attachable`],
  ["an internal ingress", (s) => ((s.ingress = true), (s.internal = true)), `invalid internal "true": the ingress network cannot be internal: it carries traffic from outside`],
  ["a /33 subnet", (s) => (s.ipam = ipam({ subnet: "10.0.0.0/33" })), `invalid ipam.configs[0].subnet "10.0.0.0/33": must be a CIDR (10.0.1.0/24 or fd00:1::/64)`],
  ["a subnet that is an address", (s) => (s.ipam = ipam({ subnet: "10.0.0.1" })), `invalid ipam.configs[0].subnet "10.0.0.1": must be a CIDR (10.0.1.0/24 or fd00:1::/64)`],
  [
    "a gateway without a subnet",
    (s) => (s.ipam = ipam({ gateway: "10.0.0.1" })),
    `invalid ipam.configs[0].subnet "": a subnet is required when range, gateway or reserved addresses are given`,
  ],
  [
    "an IPv6 family on an IPv4 subnet",
    (s) => (s.ipam = ipam({ subnet: "10.0.0.0/24", family: IPAMFamily.IPAM_FAMILY_IPV6 })),
    `invalid ipam.configs[0].family "ipv6": the subnet 10.0.0.0/24 is ipv4`,
  ],
  ["an IPv6 subnet without IPv6", (s) => (s.ipam = ipam({ subnet: "fd00:1::/64" })), `invalid ipam.configs[0].subnet "fd00:1::/64": an IPv6 subnet needs ipv6_enabled`],
  ["a range outside the subnet", (s) => (s.ipam = ipam({ subnet: "10.0.1.0/24", range: "10.0.2.0/25" })), `invalid ipam.configs[0].range "10.0.2.0/25": must lie within the subnet 10.0.1.0/24`],
  ["a range wider than the subnet", (s) => (s.ipam = ipam({ subnet: "10.0.1.0/24", range: "10.0.0.0/16" })), `invalid ipam.configs[0].range "10.0.0.0/16": must lie within the subnet 10.0.1.0/24`],
  [
    "a gateway outside the subnet",
    (s) => (s.ipam = ipam({ subnet: "10.0.1.0/24", gateway: "10.0.2.1" })),
    `invalid ipam.configs[0].gateway "10.0.2.1": must be an address within the subnet 10.0.1.0/24`,
  ],
  [
    "a reserved address outside the subnet",
    (s) => (s.ipam = ipam({ subnet: "10.0.1.0/24", reserved: { router: "192.168.0.1" } })),
    `invalid ipam.configs[0].reserved[router] "192.168.0.1": must be an address within the subnet 10.0.1.0/24`,
  ],
  [
    "overlapping subnets",
    (s) => (s.ipam = ipam({ subnet: "10.0.0.0/16" }, { subnet: "10.0.3.0/24" })),
    `invalid ipam.configs[1].subnet "10.0.3.0/24": overlaps ipam.configs[0].subnet (10.0.0.0/16)`,
  ],
  ["an unknown family", (s) => (s.ipam = ipam({ family: 3 })), `invalid ipam.configs[0].family "3": must be unknown, ipv4 or ipv6`],
  ["a bad config_from", (s) => (s.configFrom = "../x"), `invalid config_from "../x": names must start with a letter or digit and contain only letters, digits, "_", "." and "-"`],
];

describe("validateNetworkSpec", () => {
  it("refuses a missing spec", async () => {
    await expectError(() => validateNetworkSpec(undefined), "INVALID_ARGUMENT", "invalid spec: a network spec is required");
  });

  it.each(BAD)("refuses %s", async (_what, mutate, message) => {
    const s = base();
    mutate(s);
    await expectError(() => validateNetworkSpec(s), "INVALID_ARGUMENT", message);
  });

  it("accepts overlay, ingress, dual-stack and plugin networks", () => {
    const specs = [
      base(),
      NetworkSpec.fromPartial({ annotations: { name: "ingress" }, ingress: true }),
      NetworkSpec.fromPartial({
        annotations: { name: "dual", labels: { env: "prod" } },
        ipv6Enabled: true,
        attachable: true,
        ipam: ipam(
          { subnet: "10.10.0.0/16", range: "10.10.1.0/24", gateway: "10.10.0.1", reserved: { lb: "10.10.0.2" } },
          { subnet: "fd00:10::/64", gateway: "fd00:10::1", family: IPAMFamily.IPAM_FAMILY_IPV6 },
        ),
      }),
      NetworkSpec.fromPartial({ annotations: { name: "mac" }, driverConfig: { name: "vendor/macvlan:1.0" }, scope: NetworkScope.NETWORK_SCOPE_LOCAL, configFrom: "mac-config" }),
    ];
    for (const s of specs) expect(() => validateNetworkSpec(s), s.annotations!.name).not.toThrow();
  });
});

describe("checkNetworkConflicts", () => {
  it("allows one ingress network only", async () => {
    const store = newStore();
    const ingress = NetworkSpec.fromPartial({ annotations: { name: "ingress" }, ingress: true });
    store.view((r) => checkNetworkConflicts(ingress, r));
    await store.update((tx) => tx.create("network", Network.fromPartial({ id: "ing1", spec: ingress }) as unknown as StoreObject));
    const second = NetworkSpec.fromPartial({ annotations: { name: "mesh" }, ingress: true });
    await expectError(
      () => store.view((r) => checkNetworkConflicts(second, r)),
      "ALREADY_EXISTS",
      `an ingress network already exists: "ingress" (ing1); there can be only one`,
    );
    expect(() => store.view((r) => checkNetworkConflicts(ingress, r, "ing1"))).not.toThrow();
    expect(() => store.view((r) => checkNetworkConflicts(base(), r))).not.toThrow();
  });
});
