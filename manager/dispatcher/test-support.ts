// Helpers for the dispatcher's tests: a store on the real object model whose proposals are counted,
// node fixtures, a seeded random source and bounded polling. Not part of the API.
import { Cluster, Config, Node, Secret, Task } from "../../proto/gen/objects.js";
import { NodeMembership, NodeState, TaskState } from "../../proto/gen/types.js";
import { LocalProposer, MemoryStore, SCHEMAS, protoCodec, stampMeta, type Proposer, type StoreObject } from "../store/index.js";

/** Counts the proposals (one per transaction) that reach Raft. */
export class CountingProposer implements Proposer {
  count = 0;
  constructor(private readonly inner: Proposer) {}
  propose(data: Uint8Array): Promise<unknown> {
    this.count++;
    return this.inner.propose(data);
  }
}

/** A store with the production codec and schemas, applied locally, counting its proposals. */
export function newStore(): { store: MemoryStore; proposals: CountingProposer } {
  const store = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta, now: () => 1_000 });
  const proposals = new CountingProposer(new LocalProposer(store));
  store.setProposer(proposals);
  return { store, proposals };
}

/** A seeded PRNG in [0, 1) (the sim executor's). */
export { seededRandom as seeded } from "../../agent/executor/sim/random.js";

const obj = (o: object): StoreObject => o as unknown as StoreObject;

/** Creates nodes as the CA would (accepted, no description, status as given). */
export async function addNodes(store: MemoryStore, ids: string[], state = NodeState.NODE_STATE_UNKNOWN): Promise<void> {
  await store.update((tx) => {
    for (const id of ids) {
      tx.create("node", obj(Node.fromPartial({ id, spec: { membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED }, status: { state } })));
    }
  });
}

/** Creates the cluster object with a heartbeat period and a root CA certificate. */
export async function addCluster(store: MemoryStore, heartbeatPeriodMs: number, caCert = "ROOT CA PEM"): Promise<void> {
  await store.update((tx) =>
    tx.create(
      "cluster",
      obj(
        Cluster.fromPartial({
          id: "cluster1",
          spec: { annotations: { name: "default" }, dispatcher: { heartbeatPeriodMs } },
          rootCa: { caCert: Buffer.from(caCert) },
        }),
      ),
    ),
  );
}

/** Rewrites a node in the store through `change` (on a copy). */
export async function changeNode(store: MemoryStore, id: string, change: (n: Node) => void): Promise<void> {
  await store.update((tx) => {
    const n = Node.fromPartial(tx.get("node", id) as unknown as Node);
    change(n);
    tx.update("node", obj(n));
  });
}

export function nodeOf(store: MemoryStore, id: string): Node | undefined {
  return store.view((r) => r.get("node", id)) as unknown as Node | undefined;
}

/** Polls `cond` until it holds; fails after `timeoutMs` with `what`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What a test task looks like: on a node, in a state, using secrets and configs. */
export interface TaskFixture {
  id: string;
  nodeId: string;
  state?: TaskState;
  desired?: TaskState;
  secrets?: string[];
  configs?: string[];
}

/** A task as the scheduler leaves it (ASSIGNED, desired RUNNING unless told). */
export function makeTask(f: TaskFixture): Task {
  return Task.fromPartial({
    id: f.id,
    serviceId: "svc1",
    nodeId: f.nodeId,
    status: { state: f.state ?? TaskState.TASK_STATE_ASSIGNED, message: "assigned" },
    desiredState: f.desired ?? TaskState.TASK_STATE_RUNNING,
    spec: {
      runtime: {
        $case: "container",
        container: {
          image: "busybox",
          secrets: (f.secrets ?? []).map((id) => ({ secretId: id, secretName: id, file: { name: id } })),
          configs: (f.configs ?? []).map((id) => ({ configId: id, configName: id, file: { name: id } })),
        },
      },
    },
  });
}

export async function addTasks(store: MemoryStore, tasks: TaskFixture[]): Promise<void> {
  await store.update((tx) => {
    for (const t of tasks) tx.create("task", obj(makeTask(t)));
  });
}

/** Rewrites a task in the store through `change` (on a copy). */
export async function changeTask(store: MemoryStore, id: string, change: (t: Task) => void): Promise<void> {
  await store.update((tx) => {
    const t = Task.fromPartial(tx.get("task", id) as unknown as Task);
    change(t);
    tx.update("task", obj(t));
  });
}

export async function removeTask(store: MemoryStore, id: string): Promise<void> {
  await store.update((tx) => tx.remove("task", id));
}

export function taskOf(store: MemoryStore, id: string): Task | undefined {
  return store.view((r) => r.get("task", id)) as unknown as Task | undefined;
}

/** Creates secrets (value "value of ID") and configs (data "data of ID"). */
export async function addSecretsAndConfigs(store: MemoryStore, secrets: string[], configs: string[] = []): Promise<void> {
  await store.update((tx) => {
    for (const id of secrets) {
      tx.create("secret", obj(Secret.fromPartial({ id, spec: { annotations: { name: id }, data: Buffer.from(`value of ${id}`) } })));
    }
    for (const id of configs) {
      tx.create("config", obj(Config.fromPartial({ id, spec: { annotations: { name: id }, data: Buffer.from(`data of ${id}`) } })));
    }
  });
}
