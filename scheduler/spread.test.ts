// Spread preferences: tasks split evenly over label values, level by level.
import { describe, expect, it } from "vitest";
import type { Node } from "../proto/gen/objects.js";
import { NodeState, TaskState } from "../proto/gen/types.js";
import { nodeValue } from "./constraint.js";
import { schedule, type ScheduleResult } from "./schedule.js";
import { makeNode, makeTask, type NodeFixture, type TaskFixture } from "./test-support.js";

const running = TaskState.TASK_STATE_RUNNING;

function run(nodes: NodeFixture[], existing: TaskFixture[], n: number, task: Omit<TaskFixture, "id">): { result: ScheduleResult; nodes: Node[] } {
  const pending = Array.from({ length: n }, (_, i) => makeTask({ id: `t${i}`, ...task }));
  const built = nodes.map(makeNode);
  return { result: schedule({ nodes: built, tasks: [...existing.map(makeTask), ...pending], pending, nowMs: 0 }), nodes: built };
}

/** New tasks per value of `key` (a spread key such as node.labels.zone). */
function perValue(r: { result: ScheduleResult; nodes: Node[] }, key: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of r.result.assigned) {
    const v = nodeValue(r.nodes.find((n) => n.id === a.nodeId)!, key);
    out[v] = (out[v] ?? 0) + 1;
  }
  return out;
}

const zone = (id: string, z: string | undefined, extra: Partial<NodeFixture> = {}): NodeFixture => ({ id, labels: z === undefined ? {} : { zone: z }, ...extra });

describe("spread", () => {
  it("splits evenly over values, whatever the number of nodes behind each", () => {
    const nodes = [zone("a1", "a"), zone("b1", "b"), zone("b2", "b"), zone("c1", "c"), zone("c2", "c"), zone("c3", "c")];
    const r = run(nodes, [], 9, { spread: ["node.labels.zone"] });
    expect(perValue(r, "node.labels.zone")).toEqual({ a: 3, b: 3, c: 3 });
    expect(r.result.assigned.filter((x) => x.nodeId === "a1")).toHaveLength(3);
  });

  it("puts nodes without the label in a branch of their own", () => {
    const r = run([zone("a1", "a"), zone("n1", undefined), zone("n2", undefined)], [], 4, { spread: ["node.labels.zone"] });
    expect(perValue(r, "node.labels.zone")).toEqual({ a: 2, "": 2 });
  });

  it("counts the service's tasks already in each branch, on any node, and no other service's", () => {
    const nodes = [zone("a1", "a"), zone("a2", "a", { state: NodeState.NODE_STATE_DOWN }), zone("b1", "b")];
    const existing: TaskFixture[] = [
      { id: "x1", nodeId: "a2", state: running },
      { id: "x2", nodeId: "a2", state: running },
      { id: "o1", serviceId: "other", nodeId: "b1", state: running },
    ];
    const r = run(nodes, existing, 4, { spread: ["node.labels.zone"] });
    expect(perValue(r, "node.labels.zone")).toEqual({ a: 1, b: 3 });
  });

  it("nests one level per preference", () => {
    const nodes: NodeFixture[] = [];
    for (const z of ["a", "b"]) for (const rack of ["1", "2"]) for (const i of [1, 2]) nodes.push({ id: `${z}${rack}-${i}`, labels: { zone: z, rack } });
    nodes.push({ id: "b3-1", labels: { zone: "b", rack: "3" } });
    const r = run(nodes, [], 12, { spread: ["node.labels.zone", "node.labels.rack"] });
    expect(perValue(r, "node.labels.zone")).toEqual({ a: 6, b: 6 });
    const racks: Record<string, number> = {};
    for (const a of r.result.assigned) racks[a.nodeId.slice(0, 2)] = (racks[a.nodeId.slice(0, 2)] ?? 0) + 1;
    expect(racks).toEqual({ a1: 3, a2: 3, b1: 2, b2: 2, b3: 2 });
  });

  it("gives a branch that runs out of room no more, and spreads the rest over the others", () => {
    const nodes = [zone("a1", "a", { memoryGiB: 2 }), zone("b1", "b"), zone("c1", "c")];
    const r = run(nodes, [], 8, { spread: ["node.labels.zone"], memoryGiB: 1 });
    expect(perValue(r, "node.labels.zone")).toEqual({ a: 2, b: 3, c: 3 });
  });

  it("leaves out a branch whose nodes fail the constraints", () => {
    const nodes = [zone("a1", "a", { labels: { zone: "a", tier: "dev" } }), zone("b1", "b"), zone("c1", "c")];
    const r = run(nodes, [], 4, { spread: ["node.labels.zone"], constraints: ["node.labels.tier!=dev"] });
    expect(perValue(r, "node.labels.zone")).toEqual({ b: 2, c: 2 });
  });

  it("spreads over engine labels and fixed keys; ignores descriptors that name nothing", () => {
    const nodes = [{ id: "n1", engineLabels: { disk: "ssd" } }, { id: "n2", engineLabels: { disk: "ssd" } }, { id: "n3" }];
    expect(perValue(run(nodes, [], 4, { spread: ["engine.labels.disk"] }), "engine.labels.disk")).toEqual({ ssd: 2, "": 2 });
    const oses = [{ id: "l1" }, { id: "l2" }, { id: "w1", os: "windows" }];
    expect(perValue(run(oses, [], 4, { spread: ["node.platform.os"] }), "node.platform.os")).toEqual({ linux: 2, windows: 2 });
    const plain = run([zone("a1", "a"), zone("a2", "a"), zone("b1", "b")], [], 3, { spread: ["node.colour"] });
    expect(perValue(plain, "node.labels.zone")).toEqual({ a: 2, b: 1 });
  });
});
