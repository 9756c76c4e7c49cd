// The store over the real object model: protobuf transactions and snapshots, and the schemas' indexes.
import { describe, expect, it } from "vitest";
import { Node, Service, Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { LocalProposer } from "./local-proposer.js";
import { protoCodec } from "./proto-codec.js";
import { SCHEMAS, stampMeta } from "./schemas.js";
import { MemoryStore } from "./store.js";
import { KINDS, type StoreObject } from "./types.js";

function newStore(now = 5_000): MemoryStore {
  const s = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta, now: () => now });
  s.setProposer(new LocalProposer(s));
  return s;
}

const web = (): Service =>
  Service.fromPartial({
    id: "svc1",
    spec: {
      annotations: { name: "web", labels: { tier: "front" } },
      mode: { $case: "replicated", replicated: { replicas: 3 } },
      task: {
        runtime: { $case: "container", container: { image: "busybox", secrets: [{ secretId: "sec1", secretName: "pw" }] } },
        networks: [{ target: "net1" }],
      },
    },
  });

describe("store with the protobuf object model", () => {
  it("replicates a service through protobuf and indexes it by name, label, secret and network", async () => {
    const s = newStore();
    await s.update((tx) => tx.create("service", web() as unknown as StoreObject));
    const got = s.view((r) => r.resolve("service", "web")) as unknown as Service;
    expect(got.spec?.mode).toEqual({ $case: "replicated", replicated: { replicas: 3 } });
    expect(got.meta).toMatchObject({ version: { index: 1 }, createdAtUnixMs: 5000, updatedAtUnixMs: 5000 });
    for (const [index, key] of [["label", "tier"], ["label", "tier=front"], ["secret", "sec1"], ["network", "net1"]] as const) {
      expect(s.view((r) => r.find("service", index, key).map((o) => o.id))).toEqual(["svc1"]);
    }
  });

  it("indexes tasks by service, node, slot and desired state", async () => {
    const s = newStore();
    await s.update((tx) => {
      for (let slot = 1; slot <= 3; slot++) {
        const t = Task.fromPartial({ id: `t${slot}`, serviceId: "svc1", slot, nodeId: slot === 1 ? "n1" : "", desiredState: TaskState.TASK_STATE_RUNNING });
        tx.create("task", t as unknown as StoreObject);
      }
    });
    s.view((r) => {
      expect(r.find("task", "service", "svc1").length).toBe(3);
      expect(r.find("task", "node", "n1").map((t) => t.id)).toEqual(["t1"]);
      expect(r.find("task", "slot", "svc1/2").map((t) => t.id)).toEqual(["t2"]);
      expect(r.find("task", "desiredState", String(TaskState.TASK_STATE_RUNNING)).length).toBe(3);
    });
  });

  it("finds nodes by hostname, refusing an ambiguous one", async () => {
    const s = newStore();
    await s.update((tx) => {
      tx.create("node", Node.fromPartial({ id: "n1", description: { hostname: "alpha" } }) as unknown as StoreObject);
      tx.create("node", Node.fromPartial({ id: "n2", description: { hostname: "beta" } }) as unknown as StoreObject);
      tx.create("node", Node.fromPartial({ id: "n3", description: { hostname: "beta" } }) as unknown as StoreObject);
    });
    expect(s.view((r) => r.resolve("node", "alpha").id)).toBe("n1");
    expect(() => s.view((r) => r.resolve("node", "beta"))).toThrow(/node name "beta" is ambiguous: 2 nodes have it/);
  });

  it("keeps created time across updates and round-trips every table through a protobuf snapshot", async () => {
    const s = newStore();
    await s.update((tx) => {
      tx.create("service", web() as unknown as StoreObject);
      tx.create("node", { id: "n1" });
      tx.create("task", { id: "t1" });
      tx.create("network", { id: "net1" });
      tx.create("secret", { id: "sec1" });
      tx.create("config", { id: "cfg1" });
      tx.create("cluster", { id: "c1" });
    });
    const later = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta, now: () => 9_000 });
    later.restore(s.snapshot(), 1);
    later.setProposer(new LocalProposer(later, 1));
    const read = structuredClone(later.view((r) => r.get("service", "svc1"))!) as unknown as Service;
    read.spec!.annotations!.labels = { tier: "back" };
    await later.update((tx) => tx.update("service", read as unknown as StoreObject));
    expect(later.view((r) => r.get("service", "svc1"))!.meta).toMatchObject({ version: { index: 2 }, createdAtUnixMs: 5000, updatedAtUnixMs: 9000 });
    for (const kind of KINDS) expect(later.view((r) => r.count(kind))).toBe(1);
    expect(later.view((r) => r.find("service", "label", "tier=back").length)).toBe(1);
    expect(later.view((r) => r.find("service", "label", "tier=front").length)).toBe(0);
  });

  it("encodes a snapshot in the background to exactly the bytes of the blocking encoder", async () => {
    const s = newStore();
    await s.batch((b) => {
      for (let i = 0; i < 1200; i++) b.update((tx) => tx.create("task", Task.fromPartial({ id: `t${i}`, serviceId: "svc1", slot: i + 1 }) as unknown as StoreObject));
      b.update((tx) => tx.create("service", web() as unknown as StoreObject));
      b.update((tx) => tx.create("node", { id: "n1" }));
    });
    const captured = s.snapshotAsync();
    await s.update((tx) => tx.create("node", { id: "n2" })); // after the capture: not in that snapshot
    const background = await captured;
    const copy = newStore();
    copy.restore(background, s.version);
    expect(copy.view((r) => r.count("node"))).toBe(1);
    expect(copy.view((r) => r.count("task"))).toBe(1200);
    await s.update((tx) => tx.remove("node", "n2"));
    expect(Buffer.from(await s.snapshotAsync()).equals(Buffer.from(s.snapshot()))).toBe(true);
  });
});
