import { describe, expect, it } from "vitest";
import type { Node, Task } from "../../../proto/gen/objects.js";
import { NodeAvailability as A, NodeState as N, TaskState as S, UpdateState } from "../../../proto/gen/types.js";
import { global, makeNode, makeService, makeTask, serviceInput } from "../test-support.js";
import { nodeEligibility } from "./eligibility.js";
import { reconcileGlobal } from "./global.js";
import type { Decision } from "./plan.js";

const NOW = 1_000_000;
const placement = { constraints: ["node.labels.zone==east"], preferences: [], platforms: [], maxReplicas: 0 };

describe("nodeEligibility", () => {
  it.each([
    ["active and ready", makeNode({ id: "n", labels: { zone: "east" } }), "run"],
    ["not heard from yet (UNKNOWN)", makeNode({ id: "n", labels: { zone: "east" }, state: N.NODE_STATE_UNKNOWN }), "run"],
    ["paused", makeNode({ id: "n", labels: { zone: "east" }, availability: A.NODE_AVAILABILITY_PAUSE }), "keep"],
    ["drained", makeNode({ id: "n", labels: { zone: "east" }, availability: A.NODE_AVAILABILITY_DRAIN }), "stop"],
    ["down", makeNode({ id: "n", labels: { zone: "east" }, state: N.NODE_STATE_DOWN }), "stop"],
    ["paused and down", makeNode({ id: "n", labels: { zone: "east" }, state: N.NODE_STATE_DOWN, availability: A.NODE_AVAILABILITY_PAUSE }), "stop"],
    ["labels do not match", makeNode({ id: "n", labels: { zone: "west" } }), "stop"],
    ["paused, labels do not match", makeNode({ id: "n", availability: A.NODE_AVAILABILITY_PAUSE }), "stop"],
    ["removed", undefined, "stop"],
  ])("%s → %s", (_, node, want) => {
    expect(nodeEligibility(node, placement)).toBe(want);
  });
});

function summary(d: Decision): string[] {
  const out: string[] = [];
  for (const s of d.steps) {
    for (const c of s.change) out.push(`${c.task.id} → ${S[c.desiredState!]}`);
    for (const t of s.create) out.push(`create on ${t.nodeId} slot ${t.slot} ${S[t.desiredState]}`);
  }
  return out;
}

const decide = (nodes: Node[], tasks: Task[], constraints?: string[]) =>
  reconcileGlobal(serviceInput(makeService({ id: "s", mode: global, ...(constraints ? { constraints } : {}) }), tasks, nodes, NOW));
const on = (id: string, node: string, o: Partial<Parameters<typeof makeTask>[0]> = {}) => makeTask({ id, node, createdAt: 1, ...o });

describe("reconcileGlobal", () => {
  it("creates one task per eligible node, slot 0, node preset", () => {
    const nodes = [
      makeNode({ id: "a", labels: { zone: "east" } }),
      makeNode({ id: "b", labels: { zone: "west" } }),
      makeNode({ id: "c", labels: { zone: "east" }, availability: A.NODE_AVAILABILITY_PAUSE }),
      makeNode({ id: "d", labels: { zone: "east" }, availability: A.NODE_AVAILABILITY_DRAIN }),
      makeNode({ id: "e", labels: { zone: "east" }, state: N.NODE_STATE_DOWN }),
      makeNode({ id: "f", labels: { zone: "east" } }),
    ];
    expect(summary(decide(nodes, [], ["node.labels.zone==east"]))).toEqual(["create on a slot 0 TASK_STATE_RUNNING", "create on f slot 0 TASK_STATE_RUNNING"]);
  });

  it("shuts tasks down on drained, down, removed and no-longer-matching nodes, without replacements", () => {
    const nodes = [
      makeNode({ id: "a", availability: A.NODE_AVAILABILITY_DRAIN }),
      makeNode({ id: "b", state: N.NODE_STATE_DOWN }),
      makeNode({ id: "c", labels: { zone: "west" } }),
    ];
    const tasks = [on("ta", "a"), on("tb", "b"), on("tc", "c"), on("tgone", "gone")];
    expect(summary(decide(nodes, tasks, ["node.labels.zone!=west"]))).toEqual(["ta → TASK_STATE_SHUTDOWN", "tb → TASK_STATE_SHUTDOWN", "tc → TASK_STATE_SHUTDOWN", "tgone → TASK_STATE_SHUTDOWN"]);
  });

  it("keeps a paused node's task, but does not replace it there when it fails", () => {
    const nodes = [makeNode({ id: "a", availability: A.NODE_AVAILABILITY_PAUSE })];
    expect(decide(nodes, [on("t", "a")]).steps).toEqual([]);
    expect(summary(decide(nodes, [on("t", "a", { state: S.TASK_STATE_FAILED, statusAt: NOW })]))).toEqual(["t → TASK_STATE_SHUTDOWN"]);
  });

  it("replaces a failed task on the same node after the delay", () => {
    const d = decide([makeNode({ id: "a" })], [on("t", "a", { state: S.TASK_STATE_FAILED, statusAt: NOW })]);
    expect(summary(d)).toEqual(["t → TASK_STATE_SHUTDOWN", "create on a slot 0 TASK_STATE_READY"]);
    expect(d.wakeAtMs).toBe(NOW + 5_000);
  });

  it("gives a node back its task once it is active again", () => {
    const stopped = on("t", "a", { state: S.TASK_STATE_SHUTDOWN, desired: S.TASK_STATE_SHUTDOWN });
    expect(summary(decide([makeNode({ id: "a" })], [stopped]))).toEqual(["create on a slot 0 TASK_STATE_RUNNING"]);
  });

  it("shuts down the older of two live tasks on a node", () => {
    expect(summary(decide([makeNode({ id: "a" })], [on("old", "a"), on("new", "a", { createdAt: 2 })]))).toEqual(["old → TASK_STATE_SHUTDOWN"]);
  });

  it("replaces dirty tasks on their node, stop-first: the new one gated until the old one stopped", () => {
    const updateStatus = { state: UpdateState.UPDATE_STATE_UPDATING, startedAtUnixMs: 0 };
    const svc = makeService({ id: "s", mode: global, specVersion: 2, image: "nginx", updateStatus });
    const d = reconcileGlobal(serviceInput(svc, [on("t", "a")], [makeNode({ id: "a" })], NOW));
    expect(summary(d)).toEqual(["t → TASK_STATE_SHUTDOWN", "create on a slot 0 TASK_STATE_READY"]);
  });
});
