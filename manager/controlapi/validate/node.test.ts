// Node specs: optional name, labels, known role, membership and availability; acceptance is final.
import { describe, expect, it } from "vitest";
import { NodeSpec } from "../../../proto/gen/specs.js";
import { NodeAvailability, NodeMembership, NodeRole } from "../../../proto/gen/types.js";
import { checkNodeUpdate, validateNodeSpec } from "./node.js";
import { expectError } from "../test-support.js";

const base = (): NodeSpec => NodeSpec.fromPartial({ membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED });

type Case = [what: string, mutate: (s: NodeSpec) => void, message: string];

const BAD: Case[] = [
  ["a bad name", (s) => (s.annotations = { name: "_node", labels: {} }), `invalid name "_node": names must start with a letter or digit and contain only letters, digits, "_", "." and "-"`],
  ["a label key with =", (s) => (s.annotations = { name: "", labels: { "zone=a": "1" } }), `invalid labels key "zone=a": label keys must not be empty or contain "="`],
  ["an unknown role", (s) => (s.desiredRole = 7 as NodeRole), `invalid desired_role "7": must be worker or manager`],
  ["an unknown membership", (s) => (s.membership = 5 as NodeMembership), `invalid membership "5": must be pending or accepted`],
  ["an unknown availability", (s) => (s.availability = -1 as NodeAvailability), `invalid availability "-1": must be active, pause or drain`],
];

describe("validateNodeSpec", () => {
  it("refuses a missing spec", async () => {
    await expectError(() => validateNodeSpec(undefined), "INVALID_ARGUMENT", "invalid spec: a node spec is required");
  });

  it.each(BAD)("refuses %s", async (_what, mutate, message) => {
    const s = base();
    mutate(s);
    await expectError(() => validateNodeSpec(s), "INVALID_ARGUMENT", message);
  });

  it("accepts a node without a name, and a drained manager with labels", () => {
    expect(() => validateNodeSpec(base())).not.toThrow();
    const s = NodeSpec.fromPartial({
      annotations: { name: "node-1.example.com", labels: { zone: "east", ssd: "" } },
      desiredRole: NodeRole.NODE_ROLE_MANAGER,
      availability: NodeAvailability.NODE_AVAILABILITY_DRAIN,
    });
    expect(() => validateNodeSpec(s)).not.toThrow();
  });
});

describe("checkNodeUpdate", () => {
  it("refuses taking back a node's acceptance", async () => {
    await expectError(
      () => checkNodeUpdate(base(), { ...base(), membership: NodeMembership.NODE_MEMBERSHIP_PENDING }),
      "INVALID_ARGUMENT",
      `invalid membership "pending": an accepted node cannot go back to pending; remove it instead`,
    );
    expect(() => checkNodeUpdate({ ...base(), membership: NodeMembership.NODE_MEMBERSHIP_PENDING }, base())).not.toThrow();
  });
});
