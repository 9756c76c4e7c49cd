// Cluster specs: Raft ticks, heartbeat, certificate lifetime and CA settings; the name is fixed.
import { describe, expect, it } from "vitest";
import { ClusterSpec } from "../../../proto/gen/specs.js";
import { checkClusterUpdate, validateClusterSpec } from "./cluster.js";
import { expectError } from "../test-support.js";

const base = (): ClusterSpec => ClusterSpec.fromPartial({ annotations: { name: "default" } });

type Case = [what: string, mutate: (s: ClusterSpec) => void, message: string];

const BAD: Case[] = [
  ["no name", (s) => (s.annotations = undefined), `invalid name "": a name is required`],
  [
    "an election tick not above the heartbeat tick",
    (s) => (s.raft = { snapshotInterval: 0, keepOldSnapshots: 0, logEntriesForSlowFollowers: 0, heartbeatTick: 3, electionTick: 3 }),
    `invalid raft.election_tick "3": must be greater than heartbeat_tick (3); 0 = 10`,
  ],
  [
    "a heartbeat tick above the default election tick",
    (s) => (s.raft = { snapshotInterval: 0, keepOldSnapshots: 0, logEntriesForSlowFollowers: 0, heartbeatTick: 12, electionTick: 0 }),
    `invalid raft.election_tick "10": must be greater than heartbeat_tick (12); 0 = 10`,
  ],
  ["a negative heartbeat period", (s) => (s.dispatcher = { heartbeatPeriodMs: -1 }), `invalid dispatcher.heartbeat_period_ms "-1": must be >= 0`],
  [
    "a one-minute certificate",
    (s) => (s.caConfig = { nodeCertExpiryMs: 60_000, signingCaCert: Buffer.alloc(0), signingCaKey: Buffer.alloc(0), forceRotate: 0 }),
    `invalid ca_config.node_cert_expiry_ms "60000": must be 0 (90 days) or at least 3600000 (1 hour)`,
  ],
  [
    "a signing key without its certificate",
    (s) => (s.caConfig = { nodeCertExpiryMs: 0, signingCaCert: Buffer.alloc(0), signingCaKey: Buffer.from("key"), forceRotate: 0 }),
    "invalid ca_config.signing_ca_key: a signing key needs its certificate in signing_ca_cert",
  ],
  ["a default log driver without a name", (s) => (s.taskDefaults = { logDriver: { name: "", options: {} } }), `invalid task_defaults.log_driver.name "": a driver name is required`],
];

describe("validateClusterSpec", () => {
  it("refuses a missing spec", async () => {
    await expectError(() => validateClusterSpec(undefined), "INVALID_ARGUMENT", "invalid spec: a cluster spec is required");
  });

  it.each(BAD)("refuses %s", async (_what, mutate, message) => {
    const s = base();
    mutate(s);
    await expectError(() => validateClusterSpec(s), "INVALID_ARGUMENT", message);
  });

  it("accepts defaults and tuned settings", () => {
    expect(() => validateClusterSpec(base())).not.toThrow();
    const tuned = ClusterSpec.fromPartial({
      annotations: { name: "default", labels: { owner: "ops" } },
      orchestration: { taskHistoryRetentionLimit: -1 },
      raft: { heartbeatTick: 2, electionTick: 20, snapshotInterval: 5000 },
      dispatcher: { heartbeatPeriodMs: 2000 },
      caConfig: { nodeCertExpiryMs: 3_600_000 },
      taskDefaults: { logDriver: { name: "journald" } },
      encryptionConfig: { autoLockManagers: true },
    });
    expect(() => validateClusterSpec(tuned)).not.toThrow();
  });
});

describe("checkClusterUpdate", () => {
  it("refuses a rename", async () => {
    await expectError(
      () => checkClusterUpdate(base(), ClusterSpec.fromPartial({ annotations: { name: "prod" } })),
      "INVALID_ARGUMENT",
      `invalid name "prod": the cluster cannot be renamed (it is "default")`,
    );
  });
});
