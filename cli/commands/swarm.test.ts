import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { GetUnlockKeyResponse, ListClustersResponse, UpdateClusterResponse, type UpdateClusterRequest } from "../../proto/gen/control.js";
import {
  InfoResponse,
  InitRequest,
  InitResponse,
  JoinRequest,
  JoinResponse,
  LocalNodeState,
  type LeaveRequest,
  type UnlockRequest,
} from "../../proto/gen/daemon.js";
import { Cluster } from "../../proto/gen/objects.js";
import { ClusterSpec } from "../../proto/gen/specs.js";
import { NodeAvailability, NodeRole } from "../../proto/gen/types.js";
import { grpcError, runCli, startFakeSwarmd, type FakeHandlers, type FakeSwarmd } from "../testing/fake-swarmd.js";
import type { ControlApi, DaemonApi } from "../client.js";
import { withDefaultPort } from "./swarm.js";

const KEY = "SWMKEY-1-7c37Cc8654o6p38HnroywCi19pllOnGtbdZEgtKxZu8";
const UNLOCK_TEXT =
  "To unlock a swarm manager after it restarts, run the `swarm unlock`\n" +
  "command and provide the following key:\n\n" +
  `    ${KEY}\n\n` +
  "Remember to store this key in a password manager, since without it you\n" +
  "will not be able to restart the manager.\n";

const SPEC = ClusterSpec.fromPartial({
  annotations: { name: "default" },
  orchestration: { taskHistoryRetentionLimit: 5 },
  dispatcher: { heartbeatPeriodMs: 5_000 },
  caConfig: { nodeCertExpiryMs: 7_776_000_000 },
  raft: { snapshotInterval: 10_000, heartbeatTick: 1, electionTick: 10 },
});

function cluster(spec = SPEC, tokens = { worker: "SWMTKN-1-aaa-worker", manager: "SWMTKN-1-aaa-manager" }): Cluster {
  return Cluster.fromPartial({ id: "clu1", meta: { version: { index: 42 } }, spec, rootCa: { joinTokens: tokens } });
}

const INFO = InfoResponse.fromPartial({
  state: LocalNodeState.LOCAL_NODE_STATE_ACTIVE,
  nodeId: "node1",
  nodeAddr: "10.0.0.1",
  clusterId: "clu1",
  role: NodeRole.NODE_ROLE_MANAGER,
  remoteManagers: ["10.0.0.1:2377"],
  managers: 1,
  nodes: 2,
  autolock: false,
  certExpiresUnixMs: Date.UTC(2025, 3, 1),
  swarmdVersion: "0.1.0",
  raft: {
    raftId: 1,
    term: 3,
    leaderRaftId: 1,
    commitIndex: 120,
    appliedIndex: 118,
    snapshotIndex: 0,
    members: [
      { raftId: 2, nodeId: "node2", addr: "10.0.0.2:2377", reachable: false },
      { raftId: 1, nodeId: "node1", addr: "10.0.0.1:2377", leader: true, reachable: true },
    ],
  },
});

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function swarmd(handlers: { daemon?: FakeHandlers<DaemonApi>; control?: FakeHandlers<ControlApi> }): Promise<FakeSwarmd> {
  fake = await startFakeSwarmd(handlers);
  return fake;
}

describe("swarm init", () => {
  const initResponse = (unlockKey = "") =>
    InitResponse.fromPartial({ nodeId: "node1", clusterId: "clu1", workerToken: "SWMTKN-1-aaa-worker", unlockKey, advertiseAddr: "10.0.0.1" });

  it("prints docker's text and sends the flags", async () => {
    const s = await swarmd({ daemon: { init: () => initResponse() } });
    const r = await runCli(
      ["init", "--advertise-addr", "10.0.0.1", "--cert-expiry", "1h30m", "--task-history-limit", "10", "--dispatcher-heartbeat", "500ms"],
      { host: s.host },
    );
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "Swarm initialized: current node (node1) is now a manager.\n\n" +
        "To add a worker to this swarm, run the following command:\n\n" +
        "    swarm join --token SWMTKN-1-aaa-worker 10.0.0.1:2377\n\n" +
        "To add a manager to this swarm, run 'swarm join-token manager' and follow the instructions.\n\n",
    });
    expect(s.requests("init")).toEqual([
      InitRequest.fromPartial({
        advertiseAddr: "10.0.0.1",
        certExpiryMs: 5_400_000,
        taskHistoryLimit: 10,
        dispatcherHeartbeatMs: 500,
      }),
    ]);
  });

  it("leaves unset what was not given (task history limit stays unset, not 0)", async () => {
    const s = await swarmd({ daemon: { init: () => initResponse() } });
    await runCli(["init"], { host: s.host });
    expect(s.requests<InitRequest>("init")[0]).toEqual(InitRequest.fromPartial({}));
    expect(s.requests<InitRequest>("init")[0]!.taskHistoryLimit).toBeUndefined();
  });

  it("with --autolock prints the unlock key paragraph", async () => {
    const s = await swarmd({ daemon: { init: () => initResponse(KEY) } });
    const r = await runCli(["init", "--autolock"], { host: s.host });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "Swarm initialized: current node (node1) is now a manager.\n\n" +
        "To add a worker to this swarm, run the following command:\n\n" +
        "    swarm join --token SWMTKN-1-aaa-worker 10.0.0.1:2377\n\n" +
        "To add a manager to this swarm, run 'swarm join-token manager' and follow the instructions.\n\n" +
        UNLOCK_TEXT,
    );
    expect(s.requests<InitRequest>("init")[0]!.autolock).toBe(true);
  });

  it("prints the daemon's refusal as one line", async () => {
    const s = await swarmd({
      daemon: {
        init: () => {
          throw grpcError(grpc.status.FAILED_PRECONDITION, "This node is already part of a swarm. Use \"swarm leave\" to leave this swarm and join another one.");
        },
      },
    });
    expect(await runCli(["init"], { host: s.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: 'Error: This node is already part of a swarm. Use "swarm leave" to leave this swarm and join another one.\n',
    });
  });
});

describe("swarm join", () => {
  it.each([
    [NodeRole.NODE_ROLE_WORKER, "This node joined a swarm as a worker.\n"],
    [NodeRole.NODE_ROLE_MANAGER, "This node joined a swarm as a manager.\n"],
  ])("role %d", async (role, text) => {
    const s = await swarmd({ daemon: { join: () => JoinResponse.fromPartial({ nodeId: "n2", role }) } });
    const r = await runCli(["join", "--token", "SWMTKN-1-x", "--availability", "drain", "--advertise-addr", "10.0.0.2", "10.0.0.1:2377"], {
      host: s.host,
    });
    expect(r).toEqual({ code: 0, stdout: text, stderr: "" });
    expect(s.requests("join")).toEqual([
      JoinRequest.fromPartial({
        token: "SWMTKN-1-x",
        remoteAddr: "10.0.0.1:2377",
        advertiseAddr: "10.0.0.2",
        availability: NodeAvailability.NODE_AVAILABILITY_DRAIN,
      }),
    ]);
  });

  it("requires --token and the address", async () => {
    const noToken = await runCli(["join", "10.0.0.1:2377"]);
    expect(noToken).toEqual({ code: 1, stdout: "", stderr: "error: required option '--token <token>' not specified\nSee 'swarm join --help'.\n" });
    const noAddr = await runCli(["join", "--token", "t"]);
    expect(noAddr.code).toBe(1);
    expect(noAddr.stderr).toBe("error: missing required argument 'host:port'\nSee 'swarm join --help'.\n");
  });
});

describe("swarm join-token", () => {
  const handlers = (c = cluster()) => ({
    daemon: { info: () => INFO },
    control: {
      listClusters: () => ListClustersResponse.fromPartial({ clusters: [c] }),
      updateCluster: () =>
        UpdateClusterResponse.fromPartial({ cluster: cluster(SPEC, { worker: "SWMTKN-1-new-worker", manager: "SWMTKN-1-new-manager" }) }),
    },
  });

  it("-q prints only the token", async () => {
    const s = await swarmd(handlers());
    expect(await runCli(["join-token", "-q", "manager"], { host: s.host })).toEqual({ code: 0, stdout: "SWMTKN-1-aaa-manager\n", stderr: "" });
    expect(s.requests("info")).toEqual([]);
  });

  it("prints docker's text with this node's address and the cluster port", async () => {
    const s = await swarmd(handlers());
    expect(await runCli(["join-token", "worker"], { host: s.host })).toEqual({
      code: 0,
      stderr: "",
      stdout: "To add a worker to this swarm, run the following command:\n\n    swarm join --token SWMTKN-1-aaa-worker 10.0.0.1:2377\n\n",
    });
  });

  it("--rotate sends the cluster's spec and version with the rotation flag", async () => {
    const s = await swarmd(handlers());
    const r = await runCli(["join-token", "--rotate", "worker"], { host: s.host });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "Successfully rotated worker join token.\n\n" +
        "To add a worker to this swarm, run the following command:\n\n    swarm join --token SWMTKN-1-new-worker 10.0.0.1:2377\n\n",
    });
    expect(s.requests("updateCluster")).toEqual([
      {
        clusterId: "clu1",
        clusterVersion: { index: 42 },
        spec: SPEC,
        rotation: { workerJoinToken: true, managerJoinToken: false, managerUnlockKey: false },
      },
    ]);
  });

  it("--rotate -q manager prints only the new token", async () => {
    const s = await swarmd(handlers());
    expect(await runCli(["join-token", "--rotate", "-q", "manager"], { host: s.host })).toEqual({
      code: 0,
      stdout: "SWMTKN-1-new-manager\n",
      stderr: "",
    });
    expect(s.requests<UpdateClusterRequest>("updateCluster")[0]!.rotation).toEqual({
      workerJoinToken: false,
      managerJoinToken: true,
      managerUnlockKey: false,
    });
  });

  it("refuses an unknown role without calling swarmd", async () => {
    expect(await runCli(["join-token", "boss"])).toEqual({ code: 1, stdout: "", stderr: 'Error: unknown role "boss": must be one of worker, manager\n' });
  });

  it("on a worker prints the daemon's FAILED_PRECONDITION", async () => {
    const msg =
      "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
    const s = await swarmd({ control: { listClusters: () => Promise.reject(grpcError(grpc.status.FAILED_PRECONDITION, msg)) } });
    expect(await runCli(["join-token", "worker"], { host: s.host })).toEqual({ code: 1, stdout: "", stderr: `Error: ${msg}\n` });
  });
});

describe("swarm leave / unlock", () => {
  it("leave --force", async () => {
    const s = await swarmd({ daemon: { leave: () => ({}) } });
    expect(await runCli(["leave", "--force"], { host: s.host })).toEqual({ code: 0, stdout: "Node left the swarm.\n", stderr: "" });
    expect(s.requests<LeaveRequest>("leave")).toEqual([{ force: true }]);
  });

  it("unlock reads the key from piped stdin without a prompt", async () => {
    const s = await swarmd({ daemon: { unlock: () => ({}) } });
    expect(await runCli(["unlock"], { host: s.host, stdin: `  ${KEY}  \nignored\n` })).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(s.requests<UnlockRequest>("unlock")).toEqual([{ unlockKey: KEY }]);
  });

  it("unlock prompts on a terminal and reports a wrong key", async () => {
    const s = await swarmd({ daemon: { unlock: () => Promise.reject(grpcError(grpc.status.INVALID_ARGUMENT, "invalid key")) } });
    expect(await runCli(["unlock"], { host: s.host, stdin: "SWMKEY-1-wrong", tty: true })).toEqual({
      code: 1,
      stdout: "Enter unlock key: ",
      stderr: "Error: invalid key\n",
    });
  });
});

describe("swarm unlock-key", () => {
  it("prints docker's text, or the key alone with -q", async () => {
    const s = await swarmd({ control: { getUnlockKey: () => GetUnlockKeyResponse.fromPartial({ unlockKey: KEY }) } });
    expect(await runCli(["unlock-key"], { host: s.host })).toEqual({ code: 0, stdout: UNLOCK_TEXT, stderr: "" });
    expect(await runCli(["unlock-key", "-q"], { host: s.host })).toEqual({ code: 0, stdout: `${KEY}\n`, stderr: "" });
  });

  it("fails when no key is set", async () => {
    const s = await swarmd({ control: { getUnlockKey: () => GetUnlockKeyResponse.fromPartial({}) } });
    expect(await runCli(["unlock-key"], { host: s.host })).toEqual({ code: 1, stdout: "", stderr: "Error: no unlock key is set\n" });
  });

  it("--rotate rotates the manager unlock key", async () => {
    const locked = ClusterSpec.fromPartial({ ...SPEC, encryptionConfig: { autoLockManagers: true } });
    const s = await swarmd({
      control: {
        listClusters: () => ListClustersResponse.fromPartial({ clusters: [cluster(locked)] }),
        updateCluster: () => UpdateClusterResponse.fromPartial({ cluster: cluster(locked) }),
        getUnlockKey: () => GetUnlockKeyResponse.fromPartial({ unlockKey: KEY }),
      },
    });
    expect(await runCli(["unlock-key", "--rotate"], { host: s.host })).toEqual({
      code: 0,
      stdout: `Successfully rotated manager unlock key.\n\n${UNLOCK_TEXT}`,
      stderr: "",
    });
    expect(s.requests("updateCluster")).toEqual([
      { clusterId: "clu1", clusterVersion: { index: 42 }, spec: locked, rotation: { workerJoinToken: false, managerJoinToken: false, managerUnlockKey: true } },
    ]);
  });

  it("--rotate refuses when autolock is off", async () => {
    const s = await swarmd({ control: { listClusters: () => ListClustersResponse.fromPartial({ clusters: [cluster()] }) } });
    expect(await runCli(["unlock-key", "--rotate"], { host: s.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: cannot rotate because autolock is not turned on\n",
    });
  });
});

describe("swarm update", () => {
  const updatable = () => ({
    control: {
      listClusters: () => ListClustersResponse.fromPartial({ clusters: [cluster()] }),
      updateCluster: () => UpdateClusterResponse.fromPartial({ cluster: cluster() }),
      getUnlockKey: () => GetUnlockKeyResponse.fromPartial({ unlockKey: KEY }),
    },
  });

  it("changes only the given fields, with the cluster's version", async () => {
    const s = await swarmd(updatable());
    const r = await runCli(["update", "--task-history-limit", "-1", "--dispatcher-heartbeat", "10s"], { host: s.host });
    expect(r).toEqual({ code: 0, stdout: "Swarm updated.\n", stderr: "" });
    const expected = ClusterSpec.fromPartial({ ...SPEC, orchestration: { taskHistoryRetentionLimit: -1 }, dispatcher: { heartbeatPeriodMs: 10_000 } });
    expect(s.requests("updateCluster")).toEqual([
      { clusterId: "clu1", clusterVersion: { index: 42 }, spec: expected, rotation: { workerJoinToken: false, managerJoinToken: false, managerUnlockKey: false } },
    ]);
  });

  it("--cert-expiry keeps the rest of the CA config", async () => {
    const s = await swarmd(updatable());
    await runCli(["update", "--cert-expiry", "720h"], { host: s.host });
    const req = s.requests<UpdateClusterRequest>("updateCluster")[0]!;
    expect(req.spec).toEqual(ClusterSpec.fromPartial({ ...SPEC, caConfig: { nodeCertExpiryMs: 720 * 3_600_000 } }));
  });

  it("--autolock=true prints the unlock key paragraph", async () => {
    const s = await swarmd(updatable());
    const r = await runCli(["update", "--autolock=true"], { host: s.host });
    expect(r).toEqual({ code: 0, stdout: `Swarm updated.\n${UNLOCK_TEXT}`, stderr: "" });
    expect(s.requests<UpdateClusterRequest>("updateCluster")[0]!.spec).toEqual(
      ClusterSpec.fromPartial({ ...SPEC, encryptionConfig: { autoLockManagers: true } }),
    );
  });

  it("--autolock alone means true; --autolock=false turns it off without a key", async () => {
    const s = await swarmd(updatable());
    await runCli(["update", "--autolock"], { host: s.host });
    const off = await runCli(["update", "--autolock=false"], { host: s.host });
    expect(off.stdout).toBe("Swarm updated.\n");
    const specs = s.requests<UpdateClusterRequest>("updateCluster").map((r) => r.spec?.encryptionConfig?.autoLockManagers);
    expect(specs).toEqual([true, false]);
  });

  it.each([
    [["update", "--autolock=maybe"], 'Error: invalid argument "maybe" for "--autolock" flag: must be true or false\n'],
    [["update", "--cert-expiry", "90d"], 'Error: invalid argument "90d" for "--cert-expiry" flag: time: unknown unit "d" in duration "90d"\n'],
    [["update", "--dispatcher-heartbeat", "5"], 'Error: invalid argument "5" for "--dispatcher-heartbeat" flag: time: missing unit in duration "5"\n'],
    [["update", "--task-history-limit", "lots"], 'Error: invalid argument "lots" for "--task-history-limit" flag: must be an integer\n'],
    [["init", "--cert-expiry", "-1h"], 'Error: invalid argument "-1h" for "--cert-expiry" flag: must not be negative\n'],
  ])("bad value %j", async (argv, stderr) => {
    expect(await runCli(argv)).toEqual({ code: 1, stdout: "", stderr });
  });
});

describe("swarm info", () => {
  const infoHandlers = () => ({
    daemon: { info: () => INFO },
    control: { listClusters: () => ListClustersResponse.fromPartial({ clusters: [cluster()] }) },
  });

  it("prints the Swarm section of a manager", async () => {
    const s = await swarmd(infoHandlers());
    const r = await runCli(["info"], { host: s.host });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      [
        "Swarm: active",
        " NodeID: node1",
        " Is Manager: true",
        " ClusterID: clu1",
        " Managers: 1",
        " Nodes: 2",
        " Orchestration:",
        "  Task History Retention Limit: 5",
        " Raft:",
        "  Snapshot Interval: 10000",
        "  Number of Old Snapshots to Retain: 0",
        "  Heartbeat Tick: 1",
        "  Election Tick: 10",
        "  Term: 3",
        "  Leader: node1",
        "  Commit Index: 120",
        "  Applied Index: 118",
        "  Snapshot Index: 0",
        "  Members:",
        "   node1 10.0.0.1:2377 raft id 1: Leader (this node)",
        "   node2 10.0.0.2:2377 raft id 2: Unreachable",
        " Dispatcher:",
        "  Heartbeat Period: 5 seconds",
        " CA Configuration:",
        "  Expiry Duration: 3 months (2160h0m0s)",
        "  Force Rotate: 0",
        " Autolock Managers: false",
        " Root Rotation In Progress: false",
        " Node Address: 10.0.0.1",
        " Manager Addresses:",
        "  10.0.0.1:2377",
        " Node Certificate Expires: 2025-04-01 00:00:00 +0000 UTC (in 3 months)",
        "",
      ].join("\n"),
    );
  });

  it("a worker and an inactive node", async () => {
    const worker = InfoResponse.fromPartial({
      state: LocalNodeState.LOCAL_NODE_STATE_ACTIVE,
      nodeId: "node3",
      nodeAddr: "10.0.0.3",
      role: NodeRole.NODE_ROLE_WORKER,
      remoteManagers: ["10.0.0.2:2377", "10.0.0.1:2377"],
    });
    let info = worker;
    const s = await swarmd({ daemon: { info: () => info } });
    expect((await runCli(["info"], { host: s.host })).stdout).toBe(
      "Swarm: active\n NodeID: node3\n Is Manager: false\n Node Address: 10.0.0.3\n Manager Addresses:\n  10.0.0.1:2377\n  10.0.0.2:2377\n",
    );
    expect(s.requests("listClusters")).toEqual([]);
    info = InfoResponse.fromPartial({});
    expect((await runCli(["info"], { host: s.host })).stdout).toBe("Swarm: inactive\n");
  });

  it("--format: json is the InfoResponse, templates see docker's .Swarm", async () => {
    const s = await swarmd(infoHandlers());
    const json = await runCli(["info", "--format", "json"], { host: s.host });
    expect(JSON.parse(json.stdout)).toEqual(InfoResponse.toJSON(INFO));
    const tmpl = await runCli(["info", "-f", "{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{.Swarm.ControlAvailable}} {{.Swarm.Cluster.ID}}"], {
      host: s.host,
    });
    expect(tmpl).toEqual({ code: 0, stdout: "active node1 true clu1\n", stderr: "" });
  });
});

describe("withDefaultPort", () => {
  it.each([
    ["10.0.0.1", "10.0.0.1:2377"],
    ["10.0.0.1:4000", "10.0.0.1:4000"],
    ["host.example", "host.example:2377"],
    ["fe80::1", "[fe80::1]:2377"],
    ["[fe80::1]", "[fe80::1]:2377"],
    ["[fe80::1]:4000", "[fe80::1]:4000"],
  ])("%s → %s", (addr, out) => {
    expect(withDefaultPort(addr)).toBe(out);
  });
});
