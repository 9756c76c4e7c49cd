// Cluster specs: Raft timing, dispatcher heartbeat, certificate lifetime and CA settings within
// their bounds. The cluster's name is fixed.
import type { ClusterSpec } from "../../../proto/gen/specs.js";
import { RAFT_DEFAULTS } from "../../raft/node/options.js";
import { checkAnnotations, checkDriverName, checkNonNegative, invalid, show } from "./common.js";

/** Shortest node certificate lifetime (SwarmKit's). */
export const MIN_NODE_CERT_EXPIRY_MS = 60 * 60 * 1000;

/** Static checks of a cluster spec; throws StoreError(INVALID_ARGUMENT) at the first problem. */
export function validateClusterSpec(spec: ClusterSpec | undefined): asserts spec is ClusterSpec {
  if (!spec) throw invalid("spec", undefined, "a cluster spec is required");
  checkAnnotations(spec.annotations);
  const raft = spec.raft;
  if (raft) {
    const election = raft.electionTick || RAFT_DEFAULTS.electionTick;
    const heartbeat = raft.heartbeatTick || RAFT_DEFAULTS.heartbeatTick;
    if (election <= heartbeat) {
      throw invalid("raft.election_tick", election, `must be greater than heartbeat_tick (${heartbeat}); 0 = ${RAFT_DEFAULTS.electionTick}`);
    }
  }
  if (spec.dispatcher) checkNonNegative("dispatcher.heartbeat_period_ms", spec.dispatcher.heartbeatPeriodMs);
  const ca = spec.caConfig;
  if (ca) {
    if (ca.nodeCertExpiryMs !== 0 && !(ca.nodeCertExpiryMs >= MIN_NODE_CERT_EXPIRY_MS)) {
      throw invalid("ca_config.node_cert_expiry_ms", ca.nodeCertExpiryMs, `must be 0 (90 days) or at least ${MIN_NODE_CERT_EXPIRY_MS} (1 hour)`);
    }
    if (ca.signingCaKey.length > 0 && ca.signingCaCert.length === 0) {
      throw invalid("ca_config.signing_ca_key", undefined, "a signing key needs its certificate in signing_ca_cert");
    }
  }
  if (spec.taskDefaults?.logDriver) checkDriverName("task_defaults.log_driver.name", spec.taskDefaults.logDriver.name, true);
}

/** The cluster's name cannot change. */
export function checkClusterUpdate(current: ClusterSpec | undefined, next: ClusterSpec): void {
  const name = current?.annotations?.name ?? "";
  const nextName = next.annotations?.name ?? "";
  if (nextName !== name) throw invalid("name", nextName, `the cluster cannot be renamed (it is ${show(name)})`);
}
