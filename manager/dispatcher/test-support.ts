// Helpers for the dispatcher's tests: a store on the real object model whose proposals are counted,
// node fixtures, a seeded random source and bounded polling. Not part of the API.
import { Cluster, Node } from "../../proto/gen/objects.js";
import { NodeMembership, NodeState } from "../../proto/gen/types.js";
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

/** Mulberry32: a small seeded PRNG in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
