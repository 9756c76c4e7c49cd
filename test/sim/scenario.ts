// The simulation's steps, drawn from a seeded source: nodes join, go DOWN, come back, are drained,
// paused, activated, relabelled, resized or removed; services are created (replicated or global, with
// random constraints, reservations, per-node limits and restart policies), scaled, re-constrained
// and removed; running tasks fail. Each step changes the cluster the way its real author would (the
// Control API for users, node status and description writes for the dispatcher, status reports for
// agents) and the model the same way, and returns a line for the step log.
import { Node, type Task } from "../../proto/gen/objects.js";
import { ServiceSpec } from "../../proto/gen/specs.js";
import {
  NodeAvailability,
  NodeMembership,
  NodeRole,
  NodeState,
  RestartCondition,
  TaskState,
  UpdateFailureAction,
  UpdateOrder,
  type RestartPolicy,
  type UpdateConfig,
} from "../../proto/gen/types.js";
import type { MemoryStore, StoreObject } from "../../manager/store/index.js";
import type { Harness } from "./harness.js";
import { ClusterModel, type Availability, type Dice, type SimNode, type SimService } from "./model.js";

const GiB = 2 ** 30;
const MAX_NODES = 8;
const MAX_SERVICES = 6;
const ZONES = ["a", "b", "c"];
const CONSTRAINTS: readonly string[][] = [
  [],
  [],
  ["node.labels.zone==a"],
  ["node.labels.zone==b"],
  ["node.labels.zone!=c"],
  ["node.labels.disk==ssd"],
  ["node.labels.zone!=a", "node.labels.disk!=hdd"],
];
const AVAILABILITY: Record<Availability, NodeAvailability> = {
  active: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
  pause: NodeAvailability.NODE_AVAILABILITY_PAUSE,
  drain: NodeAvailability.NODE_AVAILABILITY_DRAIN,
};

type Action = () => Promise<string>;

export class Scenario {
  readonly model = new ClusterModel();
  private nodeCount = 0;
  private serviceCount = 0;

  constructor(
    private readonly h: Harness,
    private readonly dice: Dice,
  ) {}

  private get store(): MemoryStore {
    return this.h.store;
  }

  /** Runs one step drawn among those that apply now; resolves with what it did. */
  async step(): Promise<string> {
    const nodes = [...this.model.nodes.values()];
    const services = [...this.model.services.values()];
    const replicated = services.filter((s) => s.mode === "replicated");
    const ready = nodes.filter((n) => n.ready);
    const down = nodes.filter((n) => !n.ready);
    const actions: (readonly [Action, number])[] = [
      [() => this.addNode(), nodes.length < MAX_NODES ? 2 : 0],
      [() => this.nodeDown(this.dice.pick(ready)), ready.length > 1 ? 2 : 0],
      [() => this.nodeUp(this.dice.pick(down)), down.length > 0 ? 3 : 0],
      [() => this.setAvailability(this.dice.pick(nodes)), 2],
      [() => this.relabel(this.dice.pick(nodes)), 2],
      [() => this.resize(this.dice.pick(nodes)), 1],
      [() => this.removeNode(this.dice.pick(down)), down.length > 0 && nodes.length > 2 ? 0.5 : 0],
      [() => this.createService(), services.length < MAX_SERVICES ? 4 : 0],
      [() => this.scale(this.dice.pick(replicated)), replicated.length > 0 ? 4 : 0],
      [() => this.constrain(this.dice.pick(services)), services.length > 0 ? 1.5 : 0],
      [() => this.removeService(this.dice.pick(services)), services.length > 0 ? 1 : 0],
      [() => this.failTasks(), 3],
    ];
    return this.dice.weighted(actions.filter(([, w]) => w > 0))();
  }

  // ===== nodes =====

  private randomLabels(): Record<string, string> {
    const labels: Record<string, string> = {};
    const zone = this.dice.pick([...ZONES, undefined]);
    const disk = this.dice.pick(["ssd", "hdd", undefined]);
    if (zone) labels["zone"] = zone;
    if (disk) labels["disk"] = disk;
    return labels;
  }

  /** A node joins: created as the CA accepts it, described and READY as its first session reports. */
  async addNode(): Promise<string> {
    const id = `n${String(++this.nodeCount).padStart(2, "0")}`;
    const n: SimNode = {
      id,
      labels: this.randomLabels(),
      ready: true,
      availability: "active",
      nanoCpus: this.dice.pick([2, 4]) * 1e9,
      memoryBytes: this.dice.pick([2, 4, 8]) * GiB,
      keptOnPause: null,
    };
    const node = Node.fromPartial({
      id,
      role: NodeRole.NODE_ROLE_WORKER,
      spec: {
        annotations: { name: id, labels: n.labels },
        desiredRole: NodeRole.NODE_ROLE_WORKER,
        membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED,
        availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
      },
      description: { hostname: `host-${id}`, platform: { os: "linux", architecture: "amd64" }, resources: { nanoCpus: n.nanoCpus, memoryBytes: n.memoryBytes } },
      status: { state: NodeState.NODE_STATE_READY, message: "", addr: `10.0.0.${this.nodeCount}` },
    });
    await this.store.update((tx) => tx.create("node", node as unknown as StoreObject));
    this.model.nodes.set(id, n);
    return `node ${id} joins: ${describeNode(n)}`;
  }

  /** Rewrites the node's stored copy through `change`, as the dispatcher does for status and description. */
  private async rewriteNode(id: string, change: (n: Node) => void): Promise<void> {
    await this.store.update((tx) => {
      const n = Node.fromPartial(tx.get("node", id) as unknown as Node);
      change(n);
      tx.update("node", n as unknown as StoreObject);
    });
  }

  async nodeDown(n: SimNode): Promise<string> {
    await this.rewriteNode(n.id, (node) => (node.status = { ...node.status!, state: NodeState.NODE_STATE_DOWN, message: "heartbeat failure" }));
    n.ready = false;
    return `node ${n.id} goes DOWN`;
  }

  async nodeUp(n: SimNode): Promise<string> {
    await this.rewriteNode(n.id, (node) => (node.status = { ...node.status!, state: NodeState.NODE_STATE_READY, message: "" }));
    n.ready = true;
    return `node ${n.id} is READY again`;
  }

  /** The agent re-registers with another capacity. */
  async resize(n: SimNode): Promise<string> {
    const nanoCpus = this.dice.pick([1, 2, 4]) * 1e9;
    const memoryBytes = this.dice.pick([1, 2, 4, 8]) * GiB;
    await this.rewriteNode(n.id, (node) => (node.description!.resources = { nanoCpus, memoryBytes, generic: [] }));
    n.nanoCpus = nanoCpus;
    n.memoryBytes = memoryBytes;
    return `node ${n.id} now offers ${nanoCpus / 1e9} CPUs, ${memoryBytes / GiB} GiB`;
  }

  /** `docker node update` through the Control API. */
  private async updateNodeSpec(id: string, change: (spec: NonNullable<Node["spec"]>) => void): Promise<void> {
    const { node } = await this.h.control.getNode({ nodeId: id });
    const spec = structuredClone(node!.spec!);
    change(spec);
    await this.h.control.updateNode({ nodeId: id, nodeVersion: node!.meta!.version, spec });
  }

  async setAvailability(n: SimNode): Promise<string> {
    const availability = this.dice.pick((["active", "pause", "drain"] as const).filter((a) => a !== n.availability));
    await this.updateNodeSpec(n.id, (spec) => (spec.availability = AVAILABILITY[availability]));
    n.availability = availability;
    n.keptOnPause = availability === "pause" ? this.wantedTaskIds(n.id) : null;
    return `node ${n.id} set to ${availability}`;
  }

  private wantedTaskIds(nodeId: string): Set<string> {
    return this.store.view((r) => new Set((r.find("task", "node", nodeId) as unknown as Task[]).filter((t) => t.desiredState <= TaskState.TASK_STATE_RUNNING).map((t) => t.id)));
  }

  async relabel(n: SimNode): Promise<string> {
    const labels = this.randomLabels();
    await this.updateNodeSpec(n.id, (spec) => (spec.annotations = { ...spec.annotations!, labels }));
    n.labels = labels;
    return `node ${n.id} relabelled [${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",")}]`;
  }

  async removeNode(n: SimNode): Promise<string> {
    await this.h.control.removeNode({ nodeId: n.id, force: false });
    this.model.nodes.delete(n.id);
    return `node ${n.id} removed`;
  }

  // ===== services =====

  private spec(s: SimService, restart: RestartPolicy, update: UpdateConfig): ServiceSpec {
    const mode: ServiceSpec["mode"] = s.mode === "replicated" ? { $case: "replicated", replicated: { replicas: s.replicas } } : { $case: "global", global: {} };
    return ServiceSpec.fromPartial({
      annotations: { name: s.name, labels: {} },
      mode,
      task: {
        runtime: { $case: "container", container: { image: "busybox:latest" } },
        resources: { reservations: { nanoCpus: s.nanoCpus, memoryBytes: s.memoryBytes } },
        restart,
        placement: { constraints: s.constraints, maxReplicas: s.maxReplicas },
      },
      update,
    });
  }

  async createService(): Promise<string> {
    const global = this.dice.chance(0.25);
    const s: SimService = {
      id: "",
      name: `svc-${++this.serviceCount}`,
      mode: global ? "global" : "replicated",
      replicas: global ? 0 : this.dice.int(0, 8),
      constraints: this.dice.pick(CONSTRAINTS),
      nanoCpus: global ? 0 : this.dice.pick([0, 0, 0.5, 1, 2]) * 1e9,
      memoryBytes: global ? 0 : this.dice.pick([0, 0, 0.5, 1, 2]) * GiB,
      maxReplicas: global ? 0 : this.dice.pick([0, 0, 0, 1, 2]),
    };
    const restart: RestartPolicy = {
      condition: this.dice.pick([RestartCondition.RESTART_CONDITION_ANY, RestartCondition.RESTART_CONDITION_ON_FAILURE]),
      delayMs: this.dice.pick([0, 100, 1_000, undefined]),
      maxAttempts: 0,
      windowMs: 0,
    };
    // A rolling update that goes on past failures: every task whose node no longer fits a new
    // placement is replaced (pausing would leave them, as SwarmKit does).
    const update: UpdateConfig = {
      parallelism: this.dice.pick([0, 1, 2]),
      delayMs: this.dice.pick([0, 0, 200]),
      failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_CONTINUE,
      monitorMs: this.dice.pick([undefined, 0, 1_000]),
      maxFailureRatio: 0,
      order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
    };
    const { service } = await this.h.control.createService({ spec: this.spec(s, restart, update) });
    s.id = service!.id;
    this.model.services.set(s.id, s);
    const delay = restart.delayMs === undefined ? "default delay" : `delay ${restart.delayMs} ms`;
    const monitor = update.monitorMs === undefined ? "default monitor" : `monitor ${update.monitorMs} ms`;
    return (
      `service ${s.id} created: ${describeService(s)}, restart ${RestartCondition[restart.condition]} ${delay}, ` +
      `update parallelism ${update.parallelism} delay ${update.delayMs} ms ${monitor}`
    );
  }

  /** `docker service update` through the Control API: the stored spec with `change` applied. */
  private async updateServiceSpec(id: string, change: (spec: ServiceSpec) => void): Promise<void> {
    const { service } = await this.h.control.getService({ serviceId: id });
    const spec = structuredClone(service!.spec!);
    change(spec);
    await this.h.control.updateService({ serviceId: id, serviceVersion: service!.meta!.version, spec, rollback: false });
  }

  async scale(s: SimService): Promise<string> {
    const replicas = this.dice.int(0, 8);
    await this.updateServiceSpec(s.id, (spec) => (spec.mode = { $case: "replicated", replicated: { replicas } }));
    const from = s.replicas;
    s.replicas = replicas;
    return `service ${s.id} scaled from ${from} to ${replicas}`;
  }

  async constrain(s: SimService): Promise<string> {
    const constraints = this.dice.pick(CONSTRAINTS);
    await this.updateServiceSpec(s.id, (spec) => (spec.task!.placement = { ...spec.task!.placement!, constraints }));
    s.constraints = constraints;
    return `service ${s.id} constrained to [${constraints.join(" ")}]`;
  }

  async removeService(s: SimService): Promise<string> {
    await this.h.control.removeService({ serviceId: s.id });
    this.model.services.delete(s.id);
    this.model.removedServices.add(s.id);
    return `service ${s.id} removed`;
  }

  // ===== agents =====

  async failTasks(): Promise<string> {
    const failed = await this.h.agents.fail(() => this.dice.chance(0.3));
    return `tasks fail: ${failed.join(" ") || "none"}`;
  }
}

function describeNode(n: SimNode): string {
  const labels = Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(",");
  return `[${labels}] ${n.nanoCpus / 1e9} CPUs ${n.memoryBytes / GiB} GiB`;
}

function describeService(s: SimService): string {
  const mode = s.mode === "replicated" ? `replicated x${s.replicas}` : "global";
  return `${s.name} ${mode} [${s.constraints.join(" ")}] cpu=${s.nanoCpus / 1e9} mem=${s.memoryBytes / GiB}GiB max/node=${s.maxReplicas}`;
}
