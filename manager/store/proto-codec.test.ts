// The store over the real object model: protobuf transactions and snapshots, and the schemas' indexes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Node, Secret, Service, Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { LocalProposer } from "./local-proposer.js";
import { protoCodec } from "./proto-codec.js";
import { SCHEMAS, stampMeta } from "./schemas.js";
import { MemoryStore } from "./store.js";
import { KINDS, type SnapshotRecord, type StoreObject } from "./types.js";

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

/** The snapshot a fresh encoder makes of the store's objects, in table order. */
function freshEncode(s: MemoryStore): Buffer {
  const tables: SnapshotRecord["tables"] = {};
  for (const kind of KINDS) tables[kind] = s.view((r) => r.list(kind));
  return Buffer.from(protoCodec.encodeSnapshot({ version: s.version, tables }));
}

const task = (i: number, extra: Partial<Task> = {}): StoreObject =>
  Task.fromPartial({
    id: `t${i}`,
    serviceId: `svc${i % 7}`,
    slot: (i % 5) + 1,
    nodeId: `n${i % 3}`,
    desiredState: TaskState.TASK_STATE_RUNNING,
    annotations: { name: `task-${i}`, labels: { k: `v${i % 4}`, "7": "digit key" } },
    spec: { runtime: { $case: "container", container: { image: "busybox", args: ["sleep", String(i)], env: ["A=1"] } } },
    status: { state: TaskState.TASK_STATE_RUNNING, message: "é — ünïcode ✓" },
    ...extra,
  }) as unknown as StoreObject;

describe("snapshot parts", () => {
  it("keep snapshots byte for byte equal to a fresh encode through creates, updates and removes", async () => {
    const s = newStore();
    await s.batch((b) => {
      for (let i = 0; i < 600; i++) b.update((tx) => tx.create("task", task(i)));
      b.update((tx) => tx.create("service", web() as unknown as StoreObject));
      b.update((tx) => {
        tx.create("node", Node.fromPartial({ id: "n1", description: { hostname: "alpha" } }) as unknown as StoreObject);
        tx.create("secret", Secret.fromPartial({ id: "sec1", spec: { annotations: { name: "pw" }, data: Buffer.from("hunter2") } }) as unknown as StoreObject);
      });
    });
    // Updates (each object several times, some in one transaction), removes, then re-creates.
    for (let round = 0; round < 3; round++) {
      await s.batch((b) => {
        for (let i = round; i < 600; i += 3) {
          b.update((tx) => {
            const t = structuredClone(tx.get("task", `t${i}`)) as unknown as Task;
            t.status!.message = `round ${round}`;
            t.annotations!.labels = { round: String(round) };
            tx.update("task", t as unknown as StoreObject);
          });
        }
      });
    }
    await s.update((tx) => {
      for (let i = 0; i < 600; i += 4) tx.remove("task", `t${i}`);
    });
    await s.update((tx) => {
      for (let i = 0; i < 100; i += 4) tx.create("task", task(i, { nodeId: "again" }));
    });
    const fresh = freshEncode(s);
    expect(Buffer.from(s.snapshot()).equals(fresh)).toBe(true);
    expect(Buffer.from(await s.snapshotAsync()).equals(fresh)).toBe(true);
    expect(s.view((r) => r.count("task"))).toBe(600 - 150 + 25);
  });

  it("round-trip through restore: same objects, same bytes, and parts that stay right after more changes", async () => {
    const s = newStore();
    await s.batch((b) => {
      for (let i = 0; i < 300; i++) b.update((tx) => tx.create("task", task(i)));
      b.update((tx) => tx.create("service", web() as unknown as StoreObject));
    });
    const data = await s.snapshotAsync();
    const copy = newStore();
    copy.restore(data, s.version);
    copy.setProposer(new LocalProposer(copy, s.version));
    for (const kind of KINDS) expect(copy.view((r) => r.list(kind))).toEqual(s.view((r) => r.list(kind)));
    expect(Buffer.from(copy.snapshot()).equals(Buffer.from(data))).toBe(true);
    await copy.update((tx) => {
      const t = structuredClone(tx.get("task", "t5")) as unknown as Task;
      t.nodeId = "moved";
      tx.update("task", t as unknown as StoreObject);
      tx.remove("task", "t6");
    });
    expect(Buffer.from(await copy.snapshotAsync()).equals(freshEncode(copy))).toBe(true);
    const again = newStore();
    again.restore(copy.snapshot(), copy.version);
    expect(again.view((r) => r.get("task", "t5"))).toEqual(copy.view((r) => r.get("task", "t5")));
    expect(again.view((r) => r.get("task", "t6"))).toBeUndefined();
  });

  it("writes large background snapshots into one reused buffer, valid until the next one", async () => {
    const s = newStore();
    await s.batch((b) => {
      for (let i = 0; i < 9000; i += 100) b.update((tx) => {
        for (let k = i; k < i + 100; k++) tx.create("task", task(k));
      });
    });
    const first = await s.snapshotAsync();
    expect(first.length).toBeGreaterThan(1024 * 1024);
    expect(Buffer.from(first).equals(freshEncode(s))).toBe(true);
    await s.update((tx) => tx.remove("task", "t1"));
    const second = await s.snapshotAsync();
    expect(second.buffer).toBe(first.buffer);
    expect(Buffer.from(second).equals(freshEncode(s))).toBe(true);
    // The blocking snapshot never shares it, nor does one asked for while another is being written.
    expect(s.snapshot().buffer).not.toBe(second.buffer);
    const [third, fourth] = await Promise.all([s.snapshotAsync(), s.snapshotAsync()]);
    expect(third.buffer).toBe(first.buffer);
    expect(fourth.buffer).not.toBe(first.buffer);
    expect(Buffer.from(fourth).equals(Buffer.from(third))).toBe(true);
  });

  it("stay equal to a fresh encode and round-trip through restore for any sequence of changes (property)", async () => {
    const text = fc.string({ unit: "binary", maxLength: 12 });
    const op = fc.record({
      kind: fc.constantFrom("task" as const, "node" as const, "service" as const),
      id: fc.integer({ min: 0, max: 7 }),
      remove: fc.boolean(),
      name: text,
      labels: fc.dictionary(fc.oneof(text, fc.integer({ min: 0, max: 99 }).map(String)), text, { maxKeys: 3 }),
      n: fc.integer({ min: 0, max: 2 ** 40 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { maxLength: 25 }), async (txs) => {
        const s = newStore();
        for (const ops of txs) {
          await s
            .update((tx) => {
              for (const o of ops) {
                const id = `${o.kind}${o.id}`;
                const current = tx.get(o.kind, id);
                if (o.remove) {
                  if (current) tx.remove(o.kind, id);
                  continue;
                }
                const annotations = { name: `${o.name}${id}`, labels: o.labels };
                const next =
                  o.kind === "task"
                    ? Task.fromPartial({ id, slot: o.n, annotations, status: { message: o.name } })
                    : o.kind === "node"
                      ? Node.fromPartial({ id, spec: { annotations }, description: { hostname: o.name } })
                      : Service.fromPartial({ id, spec: { annotations } });
                if (current) {
                  (next as { meta?: unknown }).meta = structuredClone(current.meta);
                  tx.update(o.kind, next as unknown as StoreObject);
                } else {
                  tx.create(o.kind, next as unknown as StoreObject);
                }
              }
            })
            .catch(() => undefined); // duplicate names, say: refused as a whole
        }
        const fresh = freshEncode(s);
        expect(Buffer.from(await s.snapshotAsync()).equals(fresh)).toBe(true);
        const copy = newStore();
        copy.restore(fresh, s.version);
        expect(Buffer.from(copy.snapshot()).equals(fresh)).toBe(true);
        for (const kind of KINDS) expect(copy.view((r) => r.list(kind))).toEqual(s.view((r) => r.list(kind)));
      }),
      { numRuns: 60 },
    );
  });

  it("locates every action's object in a transaction's bytes", () => {
    const actions = [
      { op: "create" as const, kind: "task" as const, object: task(1) },
      { op: "remove" as const, kind: "service" as const, object: { id: "svc1", meta: { version: { index: 3 } } } },
      { op: "update" as const, kind: "node" as const, object: Node.fromPartial({ id: "n1" }) as unknown as StoreObject },
    ];
    const data = protoCodec.encodeTx({ actions });
    const tx = protoCodec.decodeTx(data);
    expect(tx.encoded).toHaveLength(3);
    expect(Buffer.from(tx.encoded![0]!).equals(Buffer.from(Task.encode(tx.actions[0]!.object as unknown as Task).finish()))).toBe(true);
    expect(Buffer.from(tx.encoded![2]!).equals(Buffer.from(Node.encode(tx.actions[2]!.object as unknown as Node).finish()))).toBe(true);
  });

  it("makes a part that decodes to the object from bytes in any layout, and from no bytes at all", () => {
    const o = task(9) as unknown as Task;
    o.meta = { version: { index: 42 }, createdAtUnixMs: 1000, updatedAtUnixMs: 2000 };
    const canonical = Task.encode(o).finish();
    const stale = Task.encode({ ...o, meta: { version: { index: 7 }, createdAtUnixMs: 1000, updatedAtUnixMs: 1500 } }).finish();
    const metaField = Buffer.from([0x12, 0x00]); // an empty meta, merged into the one before it
    const layouts = [
      undefined,
      stale,
      Buffer.concat([Buffer.from(stale), metaField]), // meta twice
      Buffer.concat([Buffer.from(Task.encode({ ...o, id: "" }).finish()), Buffer.from(Task.encode(Task.fromPartial({ id: o.id })).finish())]), // id last
      Buffer.from([0xff]), // malformed
    ];
    for (const encoded of layouts) {
      const part = protoCodec.snapshotPart!("task", o as unknown as StoreObject, encoded);
      const snap = protoCodec.joinSnapshotParts!({ version: 42, tables: { task: { parts: [part], bytes: part.length } } });
      expect(protoCodec.decodeSnapshot(snap).tables.task).toEqual([o]);
    }
    const part = protoCodec.snapshotPart!("task", o as unknown as StoreObject, stale);
    expect(Buffer.from(part, "latin1").equals(Buffer.concat([Buffer.from([0x22, canonical.length]), Buffer.from(canonical)]))).toBe(true);
  });

  it("snapshots a store that does not stamp times (metas without every field)", async () => {
    const s = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS });
    s.setProposer(new LocalProposer(s));
    await s.update((tx) => tx.create("task", { id: "t1" }));
    await s.update((tx) => tx.create("node", { id: "n1" }));
    const copy = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS });
    copy.restore(await s.snapshotAsync(), s.version);
    expect(copy.view((r) => r.get("task", "t1")?.meta?.version)).toEqual({ index: 1 });
    expect(copy.view((r) => r.count("node"))).toBe(1);
  });
});
