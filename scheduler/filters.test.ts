// Each filter alone and together, through schedule(): which node a task lands on, or the exact
// "no suitable node (…)" message.
import { describe, expect, it } from "vitest";
import type { Node, Task } from "../proto/gen/objects.js";
import { NodeAvailability, NodeState, TaskState } from "../proto/gen/types.js";
import { schedule } from "./schedule.js";
import { makeNode, makeTask, type NodeFixture, type TaskFixture } from "./test-support.js";

interface Case {
  name: string;
  nodes: NodeFixture[];
  /** Tasks already in the store (they hold their node from ASSIGNED to RUNNING). */
  existing?: TaskFixture[];
  task: Omit<TaskFixture, "id">;
  /** The node the task lands on, or the reason it lands nowhere. */
  want: { node: string } | { reason: string };
}

const down = NodeState.NODE_STATE_DOWN;
const drain = NodeAvailability.NODE_AVAILABILITY_DRAIN;
const pause = NodeAvailability.NODE_AVAILABILITY_PAUSE;
const running = TaskState.TASK_STATE_RUNNING;

const cases: Case[] = [
  { name: "no nodes at all", nodes: [], task: {}, want: { reason: "no suitable node" } },
  {
    name: "ready: only READY and ACTIVE nodes",
    nodes: [{ id: "a", state: down }, { id: "b", availability: drain }, { id: "c" }, { id: "d", state: NodeState.NODE_STATE_UNKNOWN }],
    task: {},
    want: { node: "c" },
  },
  {
    name: "ready: one node not available",
    nodes: [{ id: "a", availability: pause }],
    task: {},
    want: { reason: "no suitable node (1 node not available for new tasks)" },
  },
  {
    name: "resources: memory, counted per node",
    nodes: [{ id: "a", memoryGiB: 1 }, { id: "b", memoryGiB: 2 }, { id: "c", memoryGiB: 4 }],
    existing: [{ id: "x", nodeId: "c", state: running, memoryGiB: 3 }],
    task: { memoryGiB: 2 },
    want: { node: "b" },
  },
  {
    name: "resources: memory short everywhere",
    nodes: [{ id: "a", memoryGiB: 1 }, { id: "b", memoryGiB: 1 }, { id: "c", memoryGiB: 1 }],
    task: { memoryGiB: 2 },
    want: { reason: "no suitable node (insufficient memory on 3 nodes)" },
  },
  {
    name: "resources: CPU, and memory before CPU on a node short of both",
    nodes: [{ id: "a", cpus: 1 }, { id: "b", cpus: 1, memoryGiB: 1 }],
    task: { cpus: 2, memoryGiB: 2 },
    want: { reason: "no suitable node (insufficient memory on 1 node; insufficient CPU on 1 node)" },
  },
  {
    name: "resources: generic kinds, one explanation per kind",
    nodes: [{ id: "a", generic: { gpu: 1, fpga: 1 } }, { id: "b", generic: { gpu: 2 } }, { id: "c", generic: { gpu: 2, fpga: 2 } }],
    existing: [{ id: "x", nodeId: "c", state: TaskState.TASK_STATE_ASSIGNED, generic: { gpu: 1 } }],
    task: { generic: { gpu: 2, fpga: 1 } },
    want: { reason: "no suitable node (insufficient gpu on 2 nodes; insufficient fpga on 1 node)" },
  },
  {
    name: "resources: tasks before ASSIGNED and past RUNNING hold nothing, whatever they desire",
    nodes: [{ id: "a", memoryGiB: 1 }],
    existing: [
      { id: "p", nodeId: "a", state: TaskState.TASK_STATE_PENDING, memoryGiB: 1 },
      { id: "f", nodeId: "a", state: TaskState.TASK_STATE_FAILED, memoryGiB: 1 },
      { id: "c", nodeId: "a", state: TaskState.TASK_STATE_COMPLETE, memoryGiB: 1 },
    ],
    task: { memoryGiB: 1 },
    want: { node: "a" },
  },
  {
    name: "resources: a task desired to shut down still holds until it stops",
    nodes: [{ id: "a", memoryGiB: 1 }],
    existing: [{ id: "s", nodeId: "a", state: running, desired: TaskState.TASK_STATE_SHUTDOWN, memoryGiB: 1 }],
    task: { memoryGiB: 1 },
    want: { reason: "no suitable node (insufficient memory on 1 node)" },
  },
  {
    name: "constraints",
    nodes: [{ id: "a", labels: { zone: "east" } }, { id: "b", labels: { zone: "west" } }, { id: "c" }],
    task: { constraints: ["node.labels.zone==west"] },
    want: { node: "b" },
  },
  {
    name: "constraints: none satisfied",
    nodes: [{ id: "a", labels: { zone: "east" } }, { id: "c" }],
    task: { constraints: ["node.labels.zone==west"] },
    want: { reason: "no suitable node (scheduling constraints not satisfied on 2 nodes)" },
  },
  {
    name: "constraints: an unparseable constraint fits no node",
    nodes: [{ id: "a" }],
    task: { constraints: ["zone=west"] },
    want: { reason: "no suitable node (scheduling constraints not satisfied on 1 node)" },
  },
  {
    name: "platform",
    nodes: [{ id: "a", os: "windows" }, { id: "b", arch: "aarch64" }],
    task: { platforms: [{ os: "linux", architecture: "arm64" }] },
    want: { node: "b" },
  },
  {
    name: "platform: unsupported",
    nodes: [{ id: "a", os: "windows" }, { id: "b", arch: "aarch64" }],
    task: { platforms: [{ os: "linux", architecture: "amd64" }] },
    want: { reason: "no suitable node (unsupported platform on 2 nodes)" },
  },
  {
    name: "host ports: same protocol and port taken",
    nodes: [{ id: "a" }, { id: "b" }],
    existing: [{ id: "x", serviceId: "other", nodeId: "a", state: running, hostPorts: [8080] }],
    task: { hostPorts: [8080] },
    want: { node: "b" },
  },
  {
    name: "host ports: another protocol does not collide",
    nodes: [{ id: "a" }],
    existing: [{ id: "x", serviceId: "other", nodeId: "a", state: running, udpSpecPorts: [8080] }],
    task: { hostPorts: [8080] },
    want: { node: "a" },
  },
  {
    name: "host ports: in use everywhere (ports in the endpoint spec count too)",
    nodes: [{ id: "a" }, { id: "b" }],
    existing: [
      { id: "x", serviceId: "other", nodeId: "a", state: running, udpSpecPorts: [53] },
      { id: "y", serviceId: "other", nodeId: "b", state: TaskState.TASK_STATE_STARTING, udpSpecPorts: [53] },
    ],
    task: { udpSpecPorts: [53] },
    want: { reason: "no suitable node (host-mode port already in use on 2 nodes)" },
  },
  {
    name: "max replicas per node",
    nodes: [{ id: "a" }, { id: "b" }],
    existing: [
      { id: "x", nodeId: "a", state: running },
      { id: "y", nodeId: "b", state: running },
      { id: "z", nodeId: "b", state: running },
    ],
    task: { maxReplicas: 2 },
    want: { node: "a" },
  },
  {
    name: "max replicas per node: reached everywhere (other services do not count)",
    nodes: [{ id: "a" }, { id: "b" }],
    existing: [
      { id: "x", nodeId: "a", state: running },
      { id: "o", serviceId: "other", nodeId: "b", state: running },
      { id: "y", nodeId: "b", state: running, specVersion: 0 },
    ],
    task: { maxReplicas: 1 },
    want: { reason: "no suitable node (max replicas per node limit exceed on 2 nodes)" },
  },
  {
    name: "every filter once: most frequent first, ties in filter order",
    nodes: [
      { id: "down1", state: down },
      { id: "mem1", memoryGiB: 1 },
      { id: "mem2", memoryGiB: 1, labels: { zone: "west" } },
      { id: "zone1", labels: { zone: "west" } },
      { id: "zone2", labels: { zone: "west" } },
      { id: "zone3", labels: { zone: "west" } },
      { id: "win", os: "windows" },
      { id: "port" },
      { id: "full" },
    ],
    existing: [
      { id: "x", serviceId: "other", nodeId: "port", state: running, hostPorts: [80] },
      { id: "y", nodeId: "full", state: running },
    ],
    task: { memoryGiB: 2, constraints: ["node.labels.zone!=west"], platforms: [{ os: "linux" }], hostPorts: [80], maxReplicas: 1 },
    want: {
      reason:
        "no suitable node (scheduling constraints not satisfied on 3 nodes; insufficient memory on 2 nodes; " +
        "1 node not available for new tasks; unsupported platform on 1 node; host-mode port already in use on 1 node; " +
        "max replicas per node limit exceed on 1 node)",
    },
  },
];

function run(c: Case): { node: string } | { reason: string } {
  const nodes: Node[] = c.nodes.map(makeNode);
  const task = makeTask({ id: "t", ...c.task });
  const tasks: Task[] = [...(c.existing ?? []).map(makeTask), task];
  const result = schedule({ nodes, tasks, pending: [task], nowMs: 0 });
  if (result.assigned.length === 1) return { node: result.assigned[0]!.nodeId };
  return { reason: result.unschedulable[0]!.reason };
}

describe("filters", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    expect(run(c)).toEqual(c.want);
  });
});
