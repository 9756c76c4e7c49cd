import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  GetNodeResponse,
  ListNodesRequest,
  ListNodesResponse,
  UpdateNodeResponse,
  type GetNodeRequest,
  type RemoveNodeRequest,
  type UpdateNodeRequest,
} from "../../proto/gen/control.js";
import { InfoResponse, LocalNodeState } from "../../proto/gen/daemon.js";
import { Node } from "../../proto/gen/objects.js";
import { NodeSpec } from "../../proto/gen/specs.js";
import { NodeAvailability, NodeMembership, NodeRole, NodeState, Reachability } from "../../proto/gen/types.js";
import type { ControlApi, DaemonApi } from "../client.js";
import { grpcError, runCli, startFakeSwarmd, type FakeHandlers, type FakeSwarmd } from "../testing/fake-swarmd.js";
import { naturalCompare } from "../output/natural-sort.js";

const SELF = "1bcef6utixb0l0ca7gxuivsj0";

const LEADER = Node.fromPartial({
  id: SELF,
  meta: { version: { index: 11 }, createdAtUnixMs: Date.UTC(2024, 11, 31, 21, 0, 0, 250) },
  spec: {
    desiredRole: NodeRole.NODE_ROLE_MANAGER,
    membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED,
    annotations: { name: "", labels: { zone: "east" } },
  },
  description: {
    hostname: "node2",
    platform: { os: "linux", architecture: "x86_64" },
    resources: { nanoCpus: 4_000_000_000, memoryBytes: 8_349_155_328 },
    engine: { engineVersion: "27.3.1", plugins: [{ type: "Network", name: "overlay" }, { type: "Network", name: "bridge" }, { type: "Volume", name: "local" }] },
  },
  status: { state: NodeState.NODE_STATE_READY, addr: "10.0.0.1" },
  managerStatus: { raftId: 1, addr: "10.0.0.1:2377", leader: true, reachability: Reachability.REACHABILITY_REACHABLE },
  role: NodeRole.NODE_ROLE_MANAGER,
});

const UNREACHABLE = Node.fromPartial({
  id: "e216jshn25ckzbvmwlnh5jr3g",
  meta: { version: { index: 12 } },
  spec: { desiredRole: NodeRole.NODE_ROLE_MANAGER, availability: NodeAvailability.NODE_AVAILABILITY_PAUSE },
  description: { hostname: "alpha", engine: { engineVersion: "27.3.1" } },
  status: { state: NodeState.NODE_STATE_DOWN },
  managerStatus: { raftId: 2, addr: "10.0.0.2:2377", reachability: Reachability.REACHABILITY_UNREACHABLE },
  role: NodeRole.NODE_ROLE_MANAGER,
});

const WORKER = Node.fromPartial({
  id: "38ciaotwjuritcdtn9npbnkuz",
  meta: { version: { index: 7 } },
  spec: {
    availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
    membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED,
    annotations: { name: "", labels: { zone: "east", old: "x" } },
  },
  description: { hostname: "node10", engine: { engineVersion: "26.1.0" } },
  status: { state: NodeState.NODE_STATE_READY },
});

const NODES = [LEADER, UNREACHABLE, WORKER];
const INFO = InfoResponse.fromPartial({ state: LocalNodeState.LOCAL_NODE_STATE_ACTIVE, nodeId: SELF, role: NodeRole.NODE_ROLE_MANAGER });

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** A fake whose GetNode resolves ids, prefixes and hostnames over `nodes`. */
async function cluster(nodes: Node[] = NODES, extra: FakeHandlers<ControlApi> = {}, daemon: FakeHandlers<DaemonApi> = {}): Promise<FakeSwarmd> {
  fake = await startFakeSwarmd({
    daemon: { info: () => INFO, ...daemon },
    control: {
      listNodes: () => ListNodesResponse.fromPartial({ nodes }),
      getNode: ({ nodeId }) => {
        const node = nodes.find((n) => n.id.startsWith(nodeId) || n.description?.hostname === nodeId);
        if (!node) throw grpcError(grpc.status.NOT_FOUND, `node ${nodeId} not found`);
        return GetNodeResponse.fromPartial({ node });
      },
      updateNode: (req) => UpdateNodeResponse.fromPartial({ node: { id: req.nodeId } }),
      ...extra,
    },
  });
  return fake;
}

describe("node ls", () => {
  it("prints docker's table: self marked, manager status, sorted by hostname", async () => {
    const s = await cluster();
    expect(await runCli(["node", "ls"], { host: s.host })).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n" +
        "e216jshn25ckzbvmwlnh5jr3g     alpha      Down      Pause          Unreachable      27.3.1\n" +
        "1bcef6utixb0l0ca7gxuivsj0 *   node2      Ready     Active         Leader           27.3.1\n" +
        "38ciaotwjuritcdtn9npbnkuz     node10     Ready     Active                          26.1.0\n",
    });
  });

  it("-q prints the ids in the same order", async () => {
    const s = await cluster();
    expect(await runCli(["node", "ls", "-q"], { host: s.host })).toEqual({
      code: 0,
      stderr: "",
      stdout: "e216jshn25ckzbvmwlnh5jr3g\n1bcef6utixb0l0ca7gxuivsj0\n38ciaotwjuritcdtn9npbnkuz\n",
    });
  });

  it("--format templates and json use docker's field names", async () => {
    const s = await cluster();
    const t = await runCli(["node", "ls", "--format", "{{.Hostname}} {{.Self}} {{.ManagerStatus}}"], { host: s.host });
    expect(t.stdout).toBe("alpha false Unreachable\nnode2 true Leader\nnode10 false \n");
    const table = await runCli(["node", "ls", "--format", "table {{.Hostname}}\\t{{.Status}}"], { host: s.host });
    expect(table.stdout).toBe("HOSTNAME   STATUS\nalpha      Down\nnode2      Ready\nnode10     Ready\n");
    const json = await runCli(["node", "ls", "--format", "json", "-f", "name=node2"], { host: s.host });
    expect(json.stdout.split("\n")[1]).toBe(
      '{"Availability":"Active","EngineVersion":"27.3.1","Hostname":"node2","ID":"1bcef6utixb0l0ca7gxuivsj0","ManagerStatus":"Leader","Self":true,"Status":"Ready"}',
    );
  });

  it("passes filters to ListNodes", async () => {
    const s = await cluster();
    await runCli(["node", "ls", "-f", "role=manager", "-f", "name=node", "--filter", "label=zone=east", "-f", "id=1b", "-f", "membership=accepted"], {
      host: s.host,
    });
    expect(s.requests("listNodes")).toEqual([
      ListNodesRequest.fromPartial({
        filters: {
          roles: [NodeRole.NODE_ROLE_MANAGER],
          namePrefixes: ["node"],
          labels: ["zone=east"],
          idPrefixes: ["1b"],
          memberships: [NodeMembership.NODE_MEMBERSHIP_ACCEPTED],
        },
      }),
    ]);
  });

  it.each([
    [["-f", "role=boss"], 'Error: invalid argument "boss" for "--filter" flag: must be one of worker, manager\n'],
    [["-f", "colour=red"], 'Error: invalid argument "colour=red" for "--filter" flag: unknown filter "colour": must be one of id, label, membership, name, role\n'],
    [["-f", "role"], 'Error: invalid argument "role" for "--filter" flag: must be key=value\n'],
    [["--format", "{{.Nope}}"], "Error: template: executing {{.Nope}}: can't evaluate field Nope in type object\n"],
    [["--format", "{{.ID"], "Error: template parsing error: unclosed action\n"],
  ])("refuses %j", async (args, stderr) => {
    const s = await cluster();
    expect(await runCli(["node", "ls", ...args], { host: s.host })).toEqual({ code: 1, stdout: "", stderr });
  });
});

describe("node inspect", () => {
  it("prints the nodes as a JSON array; self is this node", async () => {
    const s = await cluster();
    const r = await runCli(["node", "inspect", "self", "node10"], { host: s.host });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.stringify([Node.toJSON(LEADER), Node.toJSON(WORKER)], null, 4)}\n`);
    expect(s.requests<GetNodeRequest>("getNode").map((q) => q.nodeId)).toEqual([SELF, "node10"]);
  });

  it("-f templates see docker's node shape", async () => {
    const s = await cluster();
    const r = await runCli(
      ["node", "inspect", "-f", "{{.ID}} {{.Spec.Role}} {{.Spec.Availability}} {{.Status.State}} {{.ManagerStatus.Leader}} {{.Spec.Labels.zone}}", "self", "node10"],
      { host: s.host },
    );
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout: `${SELF} manager active ready true east\n38ciaotwjuritcdtn9npbnkuz worker active ready <no value> east\n`,
    });
  });

  it("prints what it found, then an error line per missing node (exit 1)", async () => {
    const s = await cluster();
    const r = await runCli(["node", "inspect", "-f", "{{.Description.Hostname}}", "nope", "alpha", "gone"], { host: s.host });
    expect(r).toEqual({ code: 1, stdout: "alpha\n", stderr: "Error: node nope not found\nError: node gone not found\n" });
    expect(await runCli(["node", "inspect", "nope"], { host: s.host })).toEqual({ code: 1, stdout: "[]\n", stderr: "Error: node nope not found\n" });
  });

  it("--pretty", async () => {
    const s = await cluster();
    const r = await runCli(["node", "inspect", "--pretty", "self"], { host: s.host });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(
      [
        "ID:                     1bcef6utixb0l0ca7gxuivsj0",
        "Labels:",
        " - zone=east",
        "Hostname:               node2",
        "Joined at:              2024-12-31 21:00:00.25 +0000 UTC",
        "Status:",
        " State:                 Ready",
        " Availability:          Active",
        " Address:               10.0.0.1",
        "Manager Status:",
        " Address:               10.0.0.1:2377",
        " Raft Status:           Reachable",
        " Leader:                Yes",
        "Platform:",
        " Operating System:      linux",
        " Architecture:          x86_64",
        "Resources:",
        " CPUs:                  4",
        " Memory:                7.776GiB",
        "Plugins:",
        "  Network:              overlay, bridge",
        "  Volume:               local",
        "Engine Version:         27.3.1",
        "",
      ].join("\n"),
    );
    expect((await runCli(["node", "inspect", "--pretty", "-f", "{{.ID}}", "self"], { host: s.host })).stderr).toBe(
      "Error: --format is incompatible with human friendly format\n",
    );
  });
});

describe("node update", () => {
  it("adds and removes labels and sets availability, with the node's version", async () => {
    const s = await cluster();
    const r = await runCli(
      ["node", "update", "--label-add", "disk=ssd", "--label-add", "zone=west", "--label-add", "flag", "--label-rm", "old", "--availability", "drain", "node10"],
      { host: s.host },
    );
    expect(r).toEqual({ code: 0, stdout: "node10\n", stderr: "" });
    expect(s.requests("updateNode")).toEqual([
      {
        nodeId: WORKER.id,
        nodeVersion: { index: 7 },
        spec: NodeSpec.fromPartial({
          annotations: { name: "", labels: { zone: "west", disk: "ssd", flag: "" } },
          availability: NodeAvailability.NODE_AVAILABILITY_DRAIN,
          membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED,
        }),
      },
    ]);
  });

  it("--role changes only the desired role", async () => {
    const s = await cluster();
    await runCli(["node", "update", "--role", "manager", "38ci"], { host: s.host });
    expect(s.requests<UpdateNodeRequest>("updateNode")[0]!.spec).toEqual(NodeSpec.fromPartial({ ...WORKER.spec, desiredRole: NodeRole.NODE_ROLE_MANAGER }));
  });

  it("refuses to remove a label the node does not have", async () => {
    const s = await cluster();
    expect(await runCli(["node", "update", "--label-rm", "rack", "node10"], { host: s.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: key rack doesn't exist in node's labels\n",
    });
    expect(s.requests("updateNode")).toEqual([]);
  });

  it("reports a stale version as swarmd words it", async () => {
    const msg = "update out of sequence: node 38ciaotwjuritcdtn9npbnkuz changed since version 7 was read";
    const s = await cluster(NODES, { updateNode: () => Promise.reject(grpcError(grpc.status.FAILED_PRECONDITION, msg)) });
    expect(await runCli(["node", "update", "--availability", "pause", "node10"], { host: s.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: `Error: ${msg}\n`,
    });
  });

  it.each([
    [["--availability", "sometimes"], 'Error: invalid argument "sometimes" for "--availability" flag: must be one of active, pause, drain\n'],
    [["--role", "boss"], 'Error: invalid argument "boss" for "--role" flag: must be one of worker, manager\n'],
    [["--label-add", "=v"], 'Error: invalid argument "=v" for "--label-add" flag: the key must not be empty (want key=value)\n'],
  ])("refuses %j before calling swarmd", async (args, stderr) => {
    expect(await runCli(["node", "update", ...args, "n1"], { host: "unix:///nonexistent/swarmd.sock" })).toEqual({ code: 1, stdout: "", stderr });
  });
});

describe("node promote / demote", () => {
  it("promote sets the desired role; an existing manager is left alone", async () => {
    const s = await cluster();
    const r = await runCli(["node", "promote", "node10", "node2"], { host: s.host });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout: `Node node10 promoted to a manager in the swarm.\nNode ${SELF} is already a manager.\n`,
    });
    expect(s.requests("updateNode")).toEqual([
      { nodeId: WORKER.id, nodeVersion: { index: 7 }, spec: NodeSpec.fromPartial({ ...WORKER.spec, desiredRole: NodeRole.NODE_ROLE_MANAGER }) },
    ]);
  });

  it("demote", async () => {
    const s = await cluster();
    const r = await runCli(["node", "demote", "alpha", "node10"], { host: s.host });
    expect(r).toEqual({
      code: 0,
      stderr: "",
      stdout: `Manager alpha demoted in the swarm.\nNode ${WORKER.id} is already a worker.\n`,
    });
    expect(s.requests("updateNode")).toEqual([
      { nodeId: UNREACHABLE.id, nodeVersion: { index: 12 }, spec: NodeSpec.fromPartial({ ...UNREACHABLE.spec, desiredRole: NodeRole.NODE_ROLE_WORKER }) },
    ]);
  });
});

describe("node rm", () => {
  it("removes each node, printing its reference, and reports every failure", async () => {
    const s = await cluster(NODES, {
      removeNode: ({ nodeId }) => {
        if (nodeId === "alpha") throw grpcError(grpc.status.FAILED_PRECONDITION, "node alpha is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal");
        if (nodeId === "gone") throw grpcError(grpc.status.NOT_FOUND, "node gone not found");
        return {};
      },
    });
    const r = await runCli(["node", "rm", "--force", "node10", "alpha", "gone"], { host: s.host });
    expect(r).toEqual({
      code: 1,
      stdout: "node10\n",
      stderr:
        "Error: node alpha is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal\n" +
        "Error: node gone not found\n",
    });
    expect(s.requests<RemoveNodeRequest>("removeNode")).toEqual([
      { nodeId: "node10", force: true },
      { nodeId: "alpha", force: true },
      { nodeId: "gone", force: true },
    ]);
  });
});

describe("naturalCompare", () => {
  it("orders digit runs by value", () => {
    expect(["node10", "node2", "alpha", "node1", "node02", "Node3"].sort(naturalCompare)).toEqual(["Node3", "alpha", "node1", "node2", "node02", "node10"]);
  });
});
