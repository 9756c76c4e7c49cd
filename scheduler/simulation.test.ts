// Seeded simulation: nodes join, go down, drain and change labels; tasks arrive with random
// constraints, reservations, per-node limits, host ports and spread; running tasks finish or fail.
// After every step the scheduler must agree with the naive oracle decision for decision, and the
// cluster must hold its invariants. A failure names the seed and the step.
import { describe, expect, it } from "vitest";
import { Task, type Node } from "../proto/gen/objects.js";
import { NodeAvailability, NodeState, TaskState } from "../proto/gen/types.js";
import { nodeMatchesPlacement } from "./placement.js";
import { holdsNode } from "./node-state.js";
import { naiveRefusal, naiveSchedule } from "./naive-oracle.js";
import { schedule } from "./schedule.js";
import type { TaskFailure } from "./failures.js";
import { makeNode, makeTask, seededRandom, type TaskFixture } from "./test-support.js";

const SEEDS = Number(process.env["SIM_SEEDS"] ?? 200);
const STEPS = 50;

interface ServiceModel {
  id: string;
  version: number;
  spec: Omit<TaskFixture, "id" | "serviceId" | "specVersion">;
}

class Sim {
  readonly nodes: Node[] = [];
  tasks: Task[] = [];
  readonly failures: TaskFailure[] = [];
  readonly services: ServiceModel[] = [];
  nowMs = 1_000_000;
  private nextId = 0;

  constructor(private readonly rand: () => number) {
    for (let i = 0; i < 5; i++) this.services.push({ id: `svc${i}`, version: 1, spec: this.randomSpec() });
    for (let i = 0; i < 4; i++) this.addNode();
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private chance(p: number): boolean {
    return this.rand() < p;
  }

  private labels(): Record<string, string> {
    const out: Record<string, string> = {};
    const zone = this.pick(["a", "b", "c", undefined]);
    const tier = this.pick(["prod", "prod", "dev", undefined]);
    if (zone) out["zone"] = zone;
    if (tier) out["tier"] = tier;
    return out;
  }

  private randomSpec(): ServiceModel["spec"] {
    const constraints = this.pick([
      [],
      [],
      ["node.labels.tier==prod"],
      ["node.labels.zone!=a"],
      ["node.role==worker"],
      ["node.platform.arch==amd64"],
      ["node.ip==10.0.0.0/8"],
      ["node.labels.tier!=dev", "node.platform.os==linux"],
      ["node.hostname!=host-n1"],
    ]);
    return {
      constraints,
      cpus: this.pick([0, 0, 0.5, 1, 2]),
      memoryGiB: this.pick([0, 0, 0.5, 1, 2]),
      generic: this.chance(0.2) ? { gpu: 1 } : {},
      maxReplicas: this.pick([0, 0, 1, 2]),
      hostPorts: this.chance(0.2) ? [this.pick([80, 443])] : [],
      udpSpecPorts: this.chance(0.1) ? [53] : [],
      spread: this.pick([[], [], ["node.labels.zone"], ["node.labels.zone", "node.labels.tier"]]),
      platforms: this.chance(0.2) ? [{ os: "linux", architecture: this.pick(["", "arm64", "x86_64"]) }] : [],
    };
  }

  addNode(): void {
    const i = this.nextId++;
    this.nodes.push(
      makeNode({
        id: `n${i}`,
        hostname: `host-n${i}`,
        ip: this.chance(0.8) ? `10.0.${i >> 8}.${i & 255}` : `192.168.0.${i & 255}`,
        role: this.chance(0.2) ? "manager" : "worker",
        os: this.chance(0.85) ? "linux" : "windows",
        arch: this.pick(["amd64", "x86_64", "arm64", "aarch64"]),
        labels: this.labels(),
        cpus: this.pick([1, 2, 4]),
        memoryGiB: this.pick([1, 2, 4]),
        generic: this.chance(0.3) ? { gpu: this.pick([1, 2]) } : {},
        state: this.chance(0.8) ? NodeState.NODE_STATE_READY : NodeState.NODE_STATE_DOWN,
      }),
    );
  }

  /** Random changes of one step, before scheduling. */
  churn(): void {
    this.nowMs += 30_000;
    if (this.chance(0.3) && this.nodes.length < 20) this.addNode();
    for (const n of this.nodes) {
      if (this.chance(0.05)) n.status!.state = n.status!.state === NodeState.NODE_STATE_READY ? NodeState.NODE_STATE_DOWN : NodeState.NODE_STATE_READY;
      if (this.chance(0.04)) {
        n.spec!.availability = this.pick([NodeAvailability.NODE_AVAILABILITY_ACTIVE, NodeAvailability.NODE_AVAILABILITY_DRAIN, NodeAvailability.NODE_AVAILABILITY_PAUSE]);
      }
      if (this.chance(0.05)) n.spec!.annotations!.labels = this.labels();
    }
    if (this.chance(0.02) && this.nodes.length > 1) this.nodes.splice(Math.floor(this.rand() * this.nodes.length), 1);
    if (this.chance(0.1)) {
      const s = this.pick(this.services);
      s.version++;
      s.spec = this.randomSpec();
    }
    for (const t of this.tasks) {
      if (!holdsNode(t)) continue;
      if (this.chance(0.1)) {
        const failed = this.chance(0.5);
        t.status!.state = failed ? TaskState.TASK_STATE_FAILED : TaskState.TASK_STATE_COMPLETE;
        if (failed) this.failures.push({ nodeId: t.nodeId, serviceId: t.serviceId, specVersion: t.specVersion!.index, atMs: this.nowMs });
      } else if (t.status!.state === TaskState.TASK_STATE_ASSIGNED && this.chance(0.5)) {
        t.status!.state = TaskState.TASK_STATE_RUNNING;
      }
    }
    // Done tasks leave; pending ones give up after a while, so the cluster stays small.
    this.tasks = this.tasks.filter((t) => holdsNode(t) || (t.status!.state === TaskState.TASK_STATE_PENDING && this.chance(0.5)));
    const arrivals = Math.floor(this.rand() * 5);
    for (let i = 0; i < arrivals; i++) {
      const s = this.pick(this.services);
      this.tasks.push(makeTask({ id: `t${this.nextId++}`, serviceId: s.id, specVersion: s.version, ...s.spec }));
    }
    if (this.chance(0.15) && this.nodes.length > 0) {
      // A global service's task, created for one node.
      const node = this.pick(this.nodes);
      this.tasks.push(makeTask({ id: `g${this.nextId++}`, serviceId: "global", nodeId: node.id, memoryGiB: 0.5, hostPorts: [9100] }));
    }
  }
}

/** What a node's tasks hold, summed. */
function held(sim: Sim, nodeId: string): { cpu: number; memory: number; gpu: number; ports: string[] } {
  const out = { cpu: 0, memory: 0, gpu: 0, ports: [] as string[] };
  for (const t of sim.tasks) {
    if (t.nodeId !== nodeId || !holdsNode(t)) continue;
    const r = t.spec!.resources!.reservations!;
    out.cpu += r.nanoCpus;
    out.memory += r.memoryBytes;
    for (const g of r.generic) if (g.resource?.$case === "discrete") out.gpu += g.resource.discrete.value;
    for (const p of [...t.endpoint!.ports, ...t.endpoint!.spec!.ports]) if (p.publishMode === 1 && p.publishedPort) out.ports.push(`${p.protocol}/${p.publishedPort}`);
  }
  return out;
}

/** One step; returns how many tasks were placed and how many fit nowhere. */
function step(sim: Sim): { placed: number; unplaced: number } {
  sim.churn();
  const pending = sim.tasks.filter((t) => t.status!.state === TaskState.TASK_STATE_PENDING);
  const input = { nodes: sim.nodes, tasks: sim.tasks, pending, failures: sim.failures, nowMs: sim.nowMs };
  const result = schedule(input);
  expect(result).toEqual(naiveSchedule(input));
  const decided = [...result.assigned.map((a) => a.taskId), ...result.unschedulable.map((u) => u.taskId)].sort();
  expect(decided).toEqual(pending.map((t) => t.id).sort());

  const byId = new Map(sim.tasks.map((t) => [t.id, t]));
  const assigned: Task[] = [];
  for (const a of result.assigned) {
    const t = byId.get(a.taskId)!;
    t.nodeId = a.nodeId;
    t.status!.state = TaskState.TASK_STATE_ASSIGNED;
    assigned.push(t);
  }

  const violations: string[] = [];
  const check = (ok: boolean, what: () => string): void => void (ok || violations.push(what()));
  for (const t of assigned) {
    const node = sim.nodes.find((n) => n.id === t.nodeId)!;
    check(node.status!.state === NodeState.NODE_STATE_READY, () => `${t.id} placed on ${node.id}, which is not ready`);
    check(node.spec!.availability === NodeAvailability.NODE_AVAILABILITY_ACTIVE, () => `${t.id} placed on ${node.id}, which is not active`);
    check(nodeMatchesPlacement(node, t.spec!.placement), () => `${t.id} placed on ${node.id} against its constraints or platforms`);
    // Tasks already there plus this group's new ones stay within the group's limit (another version's
    // group placed later in the same pass may have a looser one).
    const max = t.spec!.placement!.maxReplicas;
    const counted = sim.tasks.filter(
      (x) => x.nodeId === node.id && holdsNode(x) && x.serviceId === t.serviceId && (!assigned.includes(x) || x.specVersion!.index === t.specVersion!.index),
    );
    check(max === 0 || counted.length <= max, () => `max replicas ${max} of ${t.serviceId} exceeded on ${node.id}`);
  }
  for (const node of sim.nodes) {
    const h = held(sim, node.id);
    const cap = node.description!.resources!;
    const gpus = cap.generic.reduce((sum, g) => sum + (g.resource?.$case === "discrete" ? g.resource.discrete.value : 0), 0);
    check(h.cpu <= cap.nanoCpus, () => `CPU overcommitted on ${node.id}`);
    check(h.memory <= cap.memoryBytes, () => `memory overcommitted on ${node.id}`);
    check(h.gpu <= gpus, () => `gpu overcommitted on ${node.id}`);
    check(new Set(h.ports).size === h.ports.length, () => `a host port used twice on ${node.id}`);
  }
  const holds = sim.tasks.filter(holdsNode).map((t) => {
    const r = t.spec!.resources!.reservations!;
    const generic = r.generic.flatMap((g): [string, number][] => (g.resource?.$case === "discrete" ? [[g.resource.discrete.kind, g.resource.discrete.value]] : []));
    const ports = [...t.endpoint!.ports, ...t.endpoint!.spec!.ports].filter((p) => p.publishMode === 1 && p.publishedPort).map((p) => `${p.protocol}/${p.publishedPort}`);
    return { nodeId: t.nodeId, serviceId: t.serviceId, cpu: r.nanoCpus, memory: r.memoryBytes, generic, ports };
  });
  for (const u of result.unschedulable) {
    const t = byId.get(u.taskId)!;
    const candidates = t.nodeId === "" ? sim.nodes : sim.nodes.filter((n) => n.id === t.nodeId);
    for (const node of candidates) check(naiveRefusal(node, t, holds) !== null, () => `${t.id} left unschedulable but fits on ${node.id}`);
    if (t.nodeId === "" && sim.nodes.length > 0) {
      const counted = [...u.reason.matchAll(/(\d+) nodes?/g)].reduce((sum, m) => sum + Number(m[1]), 0);
      check(counted === sim.nodes.length, () => `"${u.reason}" does not count each of the ${sim.nodes.length} nodes once`);
    }
  }
  expect(violations).toEqual([]);
  return { placed: result.assigned.length, unplaced: result.unschedulable.length };
}

describe("scheduler simulation", () => {
  it(`agrees with the naive oracle and keeps the invariants (${SEEDS} seeds × ${STEPS} steps)`, () => {
    let placed = 0;
    let unplaced = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const sim = new Sim(seededRandom(seed));
      for (let s = 0; s < STEPS; s++) {
        try {
          const r = step(sim);
          placed += r.placed;
          unplaced += r.unplaced;
        } catch (e) {
          throw new Error(`seed ${seed}, step ${s}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    // The simulation must exercise both outcomes, or it proves little.
    expect(placed).toBeGreaterThan(5_000);
    expect(unplaced).toBeGreaterThan(5_000);
  });

  it("copies nothing into its inputs", () => {
    const sim = new Sim(seededRandom(7));
    sim.churn();
    const pending = sim.tasks.filter((t) => t.status!.state === TaskState.TASK_STATE_PENDING);
    const snapshot = JSON.stringify([sim.nodes, sim.tasks.map((t) => Task.toJSON(t))]);
    schedule({ nodes: sim.nodes, tasks: sim.tasks, pending, failures: sim.failures, nowMs: sim.nowMs });
    expect(JSON.stringify([sim.nodes, sim.tasks.map((t) => Task.toJSON(t))])).toBe(snapshot);
  });
});
