// `swarm info`: the "Swarm:" section of `docker info`, plus this node's Raft state and certificate.
// `--format json` prints the InfoResponse as JSON; a template sees docker's shape (`.Swarm.NodeID`,
// `.Swarm.LocalNodeState`, `.Swarm.ControlAvailable`, …) so docker scripts keep working.
import { InfoResponse, LocalNodeState, type RaftInfo } from "../../proto/gen/daemon.js";
import type { Cluster } from "../../proto/gen/objects.js";
import { NodeRole } from "../../proto/gen/types.js";
import { RAFT_DEFAULTS } from "../../manager/raft/node/options.js";
import { formatDuration, humanDuration } from "../output/duration.js";
import { unescapeFormat } from "../output/format.js";
import { parseTemplate, toJson } from "../output/template.js";
import { formatTime, timeFromNow } from "../output/units.js";

const STATE_NAMES: Record<LocalNodeState, string> = {
  [LocalNodeState.LOCAL_NODE_STATE_INACTIVE]: "inactive",
  [LocalNodeState.LOCAL_NODE_STATE_PENDING]: "pending",
  [LocalNodeState.LOCAL_NODE_STATE_ACTIVE]: "active",
  [LocalNodeState.LOCAL_NODE_STATE_LOCKED]: "locked",
  [LocalNodeState.LOCAL_NODE_STATE_ERROR]: "error",
  [LocalNodeState.UNRECOGNIZED]: "unknown",
};

// Defaults of unset cluster settings (proto/README.md).
const DEFAULT_TASK_HISTORY = 5;
const DEFAULT_SNAPSHOT_INTERVAL = 10_000;
const DEFAULT_HEARTBEAT_MS = 5_000;
const DEFAULT_CERT_EXPIRY_MS = 90 * 24 * 3_600_000;

/** docker's `info.Swarm` shape, for templates. */
export function infoView(info: InfoResponse, cluster: Cluster | undefined) {
  const isManager = info.role === NodeRole.NODE_ROLE_MANAGER;
  return {
    ServerVersion: info.swarmdVersion,
    Swarm: {
      NodeID: info.nodeId,
      NodeAddr: info.nodeAddr,
      LocalNodeState: STATE_NAMES[info.state] ?? "unknown",
      ControlAvailable: isManager && info.state === LocalNodeState.LOCAL_NODE_STATE_ACTIVE,
      Error: info.error,
      RemoteManagers: info.remoteManagers.map((addr) => ({ Addr: addr })),
      Nodes: info.nodes,
      Managers: info.managers,
      Cluster: info.clusterId ? { ID: info.clusterId, Autolock: info.autolock, RootRotationInProgress: cluster?.rootCa?.rootRotation !== undefined } : null,
    },
  };
}

/** The output of `swarm info` in `format` ("" = docker's text). */
export function renderInfo(info: InfoResponse, cluster: Cluster | undefined, format: string, nowMs: number): string {
  if (format.trim() === "json") return `${toJson(InfoResponse.toJSON(info))}\n`;
  if (format !== "") return `${parseTemplate(unescapeFormat(format)).execute(infoView(info, cluster))}\n`;
  return infoText(info, cluster, nowMs);
}

function infoText(info: InfoResponse, cluster: Cluster | undefined, nowMs: number): string {
  const lines: string[] = [];
  const add = (indent: number, text: string) => lines.push(`${" ".repeat(indent)}${text}`);
  const state = info.state;
  add(0, `Swarm: ${STATE_NAMES[state] ?? "unknown"}`);
  if (state === LocalNodeState.LOCAL_NODE_STATE_INACTIVE || state === LocalNodeState.LOCAL_NODE_STATE_LOCKED) {
    if (info.error) add(1, `Error: ${info.error}`);
    return lines.map((l) => `${l}\n`).join("");
  }
  add(1, `NodeID: ${info.nodeId}`);
  if (info.error) add(1, `Error: ${info.error}`);
  const isManager = info.role === NodeRole.NODE_ROLE_MANAGER;
  add(1, `Is Manager: ${isManager}`);
  if (isManager && state === LocalNodeState.LOCAL_NODE_STATE_ACTIVE) {
    add(1, `ClusterID: ${info.clusterId}`);
    add(1, `Managers: ${info.managers}`);
    add(1, `Nodes: ${info.nodes}`);
    const spec = cluster?.spec;
    if (spec) {
      add(1, "Orchestration:");
      add(2, `Task History Retention Limit: ${spec.orchestration?.taskHistoryRetentionLimit ?? DEFAULT_TASK_HISTORY}`);
    }
    if (spec || info.raft) add(1, "Raft:");
    if (spec) {
      add(2, `Snapshot Interval: ${spec.raft?.snapshotInterval || DEFAULT_SNAPSHOT_INTERVAL}`);
      add(2, `Number of Old Snapshots to Retain: ${spec.raft?.keepOldSnapshots ?? 0}`);
      add(2, `Heartbeat Tick: ${spec.raft?.heartbeatTick || RAFT_DEFAULTS.heartbeatTick}`);
      add(2, `Election Tick: ${spec.raft?.electionTick || RAFT_DEFAULTS.electionTick}`);
    }
    if (info.raft) raftLines(info.raft).forEach((l) => add(2, l));
    if (spec) {
      add(1, "Dispatcher:");
      add(2, `Heartbeat Period: ${humanDuration(spec.dispatcher?.heartbeatPeriodMs || DEFAULT_HEARTBEAT_MS)}`);
      add(1, "CA Configuration:");
      const expiry = spec.caConfig?.nodeCertExpiryMs || DEFAULT_CERT_EXPIRY_MS;
      add(2, `Expiry Duration: ${humanDuration(expiry)} (${formatDuration(expiry)})`);
      add(2, `Force Rotate: ${spec.caConfig?.forceRotate ?? 0}`);
    }
    add(1, `Autolock Managers: ${info.autolock}`);
    if (cluster) add(1, `Root Rotation In Progress: ${cluster.rootCa?.rootRotation !== undefined}`);
  }
  add(1, `Node Address: ${info.nodeAddr}`);
  if (info.remoteManagers.length > 0) {
    add(1, "Manager Addresses:");
    [...info.remoteManagers].sort().forEach((m) => add(2, m));
  }
  if (info.certExpiresUnixMs > 0) {
    add(1, `Node Certificate Expires: ${formatTime(info.certExpiresUnixMs)} (${timeFromNow(info.certExpiresUnixMs, nowMs)})`);
  }
  return lines.map((l) => `${l}\n`).join("");
}

/** Raft state: term, leader, indexes, and one line per member. */
function raftLines(raft: RaftInfo): string[] {
  const leader = raft.members.find((m) => m.leader);
  const lines = [
    `Term: ${raft.term}`,
    `Leader: ${leader ? leader.nodeId || `raft id ${leader.raftId}` : raft.leaderRaftId ? `raft id ${raft.leaderRaftId}` : "none"}`,
    `Commit Index: ${raft.commitIndex}`,
    `Applied Index: ${raft.appliedIndex}`,
    `Snapshot Index: ${raft.snapshotIndex}`,
  ];
  if (raft.members.length > 0) {
    lines.push("Members:");
    for (const m of [...raft.members].sort((a, b) => a.raftId - b.raftId)) {
      const status = m.leader ? "Leader" : m.reachable ? "Reachable" : "Unreachable";
      const self = m.raftId === raft.raftId ? " (this node)" : "";
      lines.push(` ${m.nodeId || "?"} ${m.addr} raft id ${m.raftId}: ${status}${m.learner ? ", learner" : ""}${self}`);
    }
  }
  return lines;
}
