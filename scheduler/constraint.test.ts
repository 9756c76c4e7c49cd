import { describe, expect, it } from "vitest";
import { NodeRole } from "../proto/gen/types.js";
import { constraintHolds, nodeValue, parseConstraint } from "./constraint.js";
import { cidrContainsIp, ipEqual, parseIp, parseIpCidr } from "./ip.js";
import { nodeMatchesPlacement } from "./placement.js";
import { makeNode } from "./test-support.js";

const node = makeNode({
  id: "n1",
  hostname: "Web-1",
  ip: "10.1.2.3",
  role: "manager",
  os: "linux",
  arch: "x86_64",
  labels: { zone: "East", Disk: "ssd" },
  engineLabels: { storage: "fast" },
});

describe("constraints on a node", () => {
  it.each([
    ["node.id==n1", true],
    ["node.id==N1", true],
    ["node.id!=n1", false],
    ["node.id==n2", false],
    ["node.hostname==web-1", true],
    ["node.hostname==name-n1", false], // spec.annotations.name is not the hostname
    ["node.hostname!=web-2", true],
    ["node.ip==10.1.2.3", true],
    ["node.ip!=10.1.2.3", false],
    ["node.ip==10.1.2.4", false],
    ["node.ip==10.0.0.0/8", true],
    ["node.ip==10.1.2.0/30", true],
    ["node.ip==10.1.2.4/30", false],
    ["node.ip!=192.168.0.0/16", true],
    ["node.ip==::ffff:10.1.2.3", false], // IPv6 never equals an IPv4 address
    ["node.role==manager", true],
    ["node.role==MANAGER", true],
    ["node.role!=manager", false],
    ["node.role==worker", false],
    ["node.platform.os==Linux", true],
    ["node.platform.os==windows", false],
    ["node.platform.arch==amd64", true], // x86_64 ≈ amd64
    ["node.platform.arch==x86_64", true],
    ["node.platform.arch!=amd64", false],
    ["node.platform.arch==arm64", false],
    ["node.labels.zone==east", true], // values compare case-insensitively, as in Docker
    ["node.labels.zone!=east", false],
    ["node.labels.Zone==east", false], // label names are case-sensitive: Zone is missing
    ["node.labels.Disk==ssd", true],
    ["node.labels.rack==r1", false], // a missing label: == does not hold…
    ["node.labels.rack!=r1", true], // …and != does
    ["engine.labels.storage==fast", true],
    ["engine.labels.storage!=fast", false],
    ["engine.labels.zone==east", false], // engine labels are not node labels
  ])("%s → %s", (expr, holds) => {
    expect(constraintHolds(node, parseConstraint(expr))).toBe(holds);
  });

  it("matches aarch64 and arm64 as one architecture, and a worker's role", () => {
    const arm = makeNode({ id: "a", arch: "aarch64" });
    expect(constraintHolds(arm, parseConstraint("node.platform.arch==arm64"))).toBe(true);
    expect(constraintHolds(arm, parseConstraint("node.role==worker"))).toBe(true);
    expect(arm.role).toBe(NodeRole.NODE_ROLE_WORKER);
  });

  it("treats a node without an address or description as having empty values", () => {
    const bare = { ...makeNode({ id: "b" }), description: undefined };
    expect(constraintHolds(bare, parseConstraint("node.ip==10.0.0.0/8"))).toBe(false);
    expect(constraintHolds(bare, parseConstraint("node.ip!=10.0.0.0/8"))).toBe(true);
    expect(constraintHolds(bare, parseConstraint("node.hostname!=x"))).toBe(true);
    expect(constraintHolds(bare, parseConstraint("engine.labels.a==b"))).toBe(false);
    expect(nodeValue(bare, "node.platform.os")).toBe("");
  });

  it("matches IPv6 addresses and networks", () => {
    const v6 = makeNode({ id: "v6", ip: "2001:db8::7" });
    expect(constraintHolds(v6, parseConstraint("node.ip==2001:DB8:0:0:0:0:0:7"))).toBe(true);
    expect(constraintHolds(v6, parseConstraint("node.ip==2001:db8::/32"))).toBe(true);
    expect(constraintHolds(v6, parseConstraint("node.ip==2001:db9::/32"))).toBe(false);
    expect(constraintHolds(v6, parseConstraint("node.ip==10.0.0.0/8"))).toBe(false);
  });
});

describe("parseConstraint", () => {
  it("refuses node.ip values that are neither an address nor a CIDR, and unknown roles", () => {
    expect(() => parseConstraint("node.ip==10.0.0")).toThrow(/node.ip takes an IP address or a CIDR/);
    expect(() => parseConstraint("node.ip==10.0.0.0/33")).toThrow(/node.ip/);
    expect(() => parseConstraint("node.role==boss")).toThrow(/manager or worker/);
    expect(() => parseConstraint("node.colour==red")).toThrow(/the key must be node.id, node.hostname/);
    expect(() => parseConstraint("zone")).toThrow(/KEY==VALUE/);
  });
});

describe("IP parsing", () => {
  const hex = (s: string): string | null => {
    const b = parseIp(s);
    return b ? Buffer.from(b).toString("hex") : null;
  };
  it.each([
    ["10.0.0.1", "0a000001"],
    ["255.255.255.255", "ffffffff"],
    ["256.0.0.1", null],
    ["01.2.3.4", null],
    ["1.2.3", null],
    ["1.2.3.4.5", null],
    ["::", "00000000000000000000000000000000"],
    ["::1", "00000000000000000000000000000001"],
    ["fe80::1:2", "fe800000000000000000000000010002"],
    ["::ffff:10.0.0.1", "00000000000000000000ffff0a000001"],
    ["1:2:3:4:5:6:7:8", "00010002000300040005000600070008"],
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["1:2:3:4:5:6:7:8:9", null],
    ["1::2::3", null],
    ["12345::", null],
    ["g::", null],
    ["", null],
  ])("%s → %s", (s, want) => {
    expect(hex(s)).toBe(want);
  });

  it("parses CIDRs and checks containment bit by bit", () => {
    const c = parseIpCidr("192.168.4.0/22")!;
    expect(cidrContainsIp(c, parseIp("192.168.7.255")!)).toBe(true);
    expect(cidrContainsIp(c, parseIp("192.168.8.0")!)).toBe(false);
    expect(cidrContainsIp(parseIpCidr("0.0.0.0/0")!, parseIp("8.8.8.8")!)).toBe(true);
    expect(cidrContainsIp(parseIpCidr("fd00::/8")!, parseIp("10.0.0.1")!)).toBe(false);
    expect(parseIpCidr("10.0.0.0/x")).toBeNull();
    expect(parseIpCidr("fd00::/129")).toBeNull();
    expect(parseIpCidr("10.0.0.0")).toBeNull();
    expect(ipEqual(parseIp("::a")!, parseIp("0::A")!)).toBe(true);
  });
});

describe("nodeMatchesPlacement", () => {
  it.each([
    ["no placement", undefined, true],
    ["constraints that hold", { constraints: ["node.labels.zone==east", "node.role==manager"], platforms: [] }, true],
    ["one constraint that fails", { constraints: ["node.labels.zone==east", "node.role==worker"], platforms: [] }, false],
    ["an unparseable constraint", { constraints: ["zone"], platforms: [] }, false],
    ["any platform (empty list)", { constraints: [], platforms: [] }, true],
    ["a listed platform, arch alias", { constraints: [], platforms: [{ os: "windows", architecture: "" }, { os: "linux", architecture: "amd64" }] }, true],
    ["an os wildcard", { constraints: [], platforms: [{ os: "", architecture: "x86_64" }] }, true],
    ["no listed platform", { constraints: [], platforms: [{ os: "linux", architecture: "arm64" }] }, false],
  ])("%s → %s", (_name, placement, want) => {
    const p = placement === undefined ? undefined : { preferences: [], maxReplicas: 0, ...placement };
    expect(nodeMatchesPlacement(node, p)).toBe(want);
  });
});
