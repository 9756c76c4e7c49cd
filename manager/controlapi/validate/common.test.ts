// Shared checks: value display, address arithmetic, constraints, object size.
import { describe, expect, it } from "vitest";
import { checkObjectSize, cidrWithin, cidrsOverlap, invalid, orList, parseCidr, show } from "./common.js";
import { parseConstraint } from "../../../scheduler/index.js";
import { expectError } from "../test-support.js";

describe("messages", () => {
  it("quote values, cut long ones, and list choices", () => {
    expect(show(-1)).toBe(`"-1"`);
    expect(show("a\"b")).toBe(`"a\\"b"`);
    expect(show("x".repeat(100))).toBe(`"${"x".repeat(80)}…"`);
    expect(orList(["a"])).toBe("a");
    expect(orList(["a", "b", "c"])).toBe("a, b or c");
    expect(invalid("replicas", -1, "must be >= 0").message).toBe(`invalid replicas "-1": must be >= 0`);
  });
});

describe("addresses", () => {
  it("parse CIDRs of both families and refuse malformed ones", () => {
    expect(parseCidr("10.0.1.0/24")).toEqual({ addr: "10.0.1.0", prefix: 24, family: "ipv4" });
    expect(parseCidr("fd00::/8")).toEqual({ addr: "fd00::", prefix: 8, family: "ipv6" });
    for (const bad of ["10.0.1.0", "10.0.1.0/", "10.0.1.0/33", "fd00::/129", "x/8", "10.0.0.0/-1", "10.0.0.0/8/8"]) expect(parseCidr(bad), bad).toBeNull();
  });

  it("compare ranges", () => {
    const p = (s: string) => parseCidr(s)!;
    expect(cidrWithin(p("10.0.0.0/16"), p("10.0.5.0/24"))).toBe(true);
    expect(cidrWithin(p("10.0.5.0/24"), p("10.0.0.0/16"))).toBe(false);
    expect(cidrWithin(p("10.0.0.0/16"), p("fd00::/64"))).toBe(false);
    expect(cidrsOverlap(p("10.0.0.0/24"), p("10.0.0.128/25"))).toBe(true);
    expect(cidrsOverlap(p("10.0.0.0/24"), p("10.0.1.0/24"))).toBe(false);
  });
});

describe("parseConstraint", () => {
  it("parses both operators, trims, and keeps label case", () => {
    expect(parseConstraint(" node.labels.Zone == East ")).toEqual({ key: "node.labels.Zone", op: "==", value: "East" });
    expect(parseConstraint("Node.Role!=manager")).toEqual({ key: "node.role", op: "!=", value: "manager" });
    expect(parseConstraint("engine.labels.a.b==c=d")).toEqual({ key: "engine.labels.a.b", op: "==", value: "c=d" });
    expect(() => parseConstraint("node.labels.==x")).toThrow(/the key must be/);
    expect(() => parseConstraint("node.id==a==b")).toThrow(/one operator/);
  });
});

describe("checkObjectSize", () => {
  it("refuses an object over the limit, naming its size and the limit", async () => {
    expect(() => checkObjectSize("service", "web", 1024 * 1024)).not.toThrow();
    await expectError(
      () => checkObjectSize("service", "web", 1024 * 1024 + 1),
      "INVALID_ARGUMENT",
      `service "web" is too large: 1048577 bytes encoded, over the limit of 1048576 bytes (1 MiB); nothing was written`,
    );
  });
});
