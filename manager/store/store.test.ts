// The store engine on plain objects with the JSON codec and a local proposer.
import { describe, expect, it } from "vitest";
import { jsonCodec } from "./json-codec.js";
import { LocalProposer } from "./local-proposer.js";
import { MemoryStore } from "./store.js";
import type { TableSchema } from "./table.js";
import type { StoreEvent, StoreObject } from "./types.js";

interface Obj extends StoreObject {
  spec: { name: string; labels?: Record<string, string> };
  serviceId?: string;
  slot?: number;
}

const schemas: TableSchema[] = [
  {
    kind: "service",
    name: (o) => (o as Obj).spec.name,
    indexes: { label: (o) => Object.entries((o as Obj).spec.labels ?? {}).map(([k, v]) => `${k}=${v}`) },
  },
  {
    kind: "task",
    indexes: {
      service: (o) => ((o as Obj).serviceId ? [(o as Obj).serviceId!] : []),
      slot: (o) => ((o as Obj).serviceId ? [`${(o as Obj).serviceId}/${(o as Obj).slot}`] : []),
    },
  },
];

function newStore(maxTxBytes?: number): MemoryStore {
  const s = new MemoryStore({
    codec: jsonCodec,
    schemas,
    ...(maxTxBytes ? { maxTxBytes } : {}),
    now: () => 1_000,
    stamp: (o, op, now) => {
      o.meta = { ...o.meta, updatedAtUnixMs: now, ...(op === "create" ? { createdAtUnixMs: now } : {}) };
    },
  });
  s.setProposer(new LocalProposer(s));
  return s;
}

const svc = (id: string, name: string, labels?: Record<string, string>): Obj => ({ id, spec: { name, ...(labels ? { labels } : {}) } });
const clone = <T>(o: T): T => structuredClone(o);

describe("MemoryStore", () => {
  it("commits a transaction and stamps version and times", async () => {
    const s = newStore();
    const v = await s.update((tx) => {
      tx.create("service", svc("s1", "web", { tier: "front" }));
      tx.create("task", { id: "t1", spec: { name: "" }, serviceId: "s1", slot: 1 } as Obj);
    });
    expect(v).toBe(1);
    const web = s.view((r) => r.get("service", "s1"))!;
    expect(web.meta).toEqual({ version: { index: 1 }, createdAtUnixMs: 1000, updatedAtUnixMs: 1000 });
    expect(s.view((r) => r.find("task", "service", "s1").map((t) => t.id))).toEqual(["t1"]);
    expect(s.view((r) => r.find("task", "slot", "s1/1").map((t) => t.id))).toEqual(["t1"]);
    expect(s.view((r) => r.find("service", "label", "tier=front").map((t) => t.id))).toEqual(["s1"]);
  });

  it("resolves a full id, a unique id prefix or a name, and refuses an ambiguous prefix", async () => {
    const s = newStore();
    await s.update((tx) => {
      tx.create("service", svc("abc123", "web"));
      tx.create("service", svc("abd456", "db"));
    });
    s.view((r) => {
      expect(r.resolve("service", "abc123").id).toBe("abc123");
      expect(r.resolve("service", "abd").id).toBe("abd456");
      expect(r.resolve("service", "web").id).toBe("abc123");
      expect(() => r.resolve("service", "ab")).toThrow(/ambiguous: it prefixes 2 ids/);
      expect(() => r.resolve("service", "zzz")).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
    });
  });

  it("refuses a duplicate id or name, and writes nothing of the transaction", async () => {
    const s = newStore();
    await s.update((tx) => tx.create("service", svc("s1", "web")));
    await expect(s.update((tx) => tx.create("service", svc("s1", "other")))).rejects.toMatchObject({ code: "ALREADY_EXISTS" });
    await expect(
      s.update((tx) => {
        tx.create("service", svc("s2", "api"));
        tx.create("service", svc("s3", "web"));
      }),
    ).rejects.toMatchObject({ code: "ALREADY_EXISTS", message: 'service name "web" is already in use by service s1' });
    expect(s.view((r) => r.count("service"))).toBe(1);
  });

  it("refuses an update based on a stale version (optimistic concurrency)", async () => {
    const s = newStore();
    await s.update((tx) => tx.create("service", svc("s1", "web")));
    const read = clone(s.view((r) => r.get("service", "s1")) as Obj);
    await s.update((tx) => tx.update("service", { ...clone(read), spec: { name: "web2" } } as Obj));
    await expect(s.update((tx) => tx.update("service", { ...read, spec: { name: "web3" } } as Obj))).rejects.toMatchObject({
      code: "FAILED_PRECONDITION",
      message: expect.stringContaining("is at version 2, but the change was based on version 1"),
    });
    expect((s.view((r) => r.get("service", "s1")) as Obj).spec.name).toBe("web2");
  });

  it("checks again at apply: of two racing updates from the same version, exactly one commits", async () => {
    const s = newStore();
    await s.update((tx) => tx.create("service", svc("s1", "web")));
    const read = s.view((r) => r.get("service", "s1")) as Obj;
    const results = await Promise.allSettled([
      s.update((tx) => tx.update("service", { ...clone(read), spec: { name: "a" } } as Obj)),
      s.update((tx) => tx.update("service", { ...clone(read), spec: { name: "b" } } as Obj)),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect((s.view((r) => r.get("service", "s1")) as Obj).spec.name).toBe("a");
    // A renamed object frees its old name.
    await s.update((tx) => tx.create("service", svc("s2", "web")));
  });

  it("keeps index entries in order as keys gain and lose objects", async () => {
    const s = newStore();
    const task = (id: string, slot: number): Obj => ({ id, spec: { name: "" }, serviceId: "s1", slot });
    const slot1 = (): string[] => s.view((r) => r.find("task", "slot", "s1/1").map((t) => t.id));
    const ofService = (): string[] => s.view((r) => r.find("task", "service", "s1").map((t) => t.id));
    await s.update((tx) => tx.create("task", task("a", 1)));
    expect(slot1()).toEqual(["a"]);
    await s.update((tx) => {
      tx.create("task", task("b", 1));
      tx.create("task", task("c", 1));
      tx.create("task", task("d", 2));
    });
    expect(slot1()).toEqual(["a", "b", "c"]);
    await s.update((tx) => tx.remove("task", "a"));
    await s.update((tx) => tx.remove("task", "c"));
    expect(slot1()).toEqual(["b"]);
    await s.update((tx) => tx.create("task", task("e", 1)));
    expect(slot1()).toEqual(["b", "e"]);
    // Re-indexing an updated object under the same key keeps one entry for it.
    const b = clone(s.view((r) => r.get("task", "b"))!) as Obj;
    await s.update((tx) => tx.update("task", b));
    expect(slot1()).toEqual(["e", "b"]);
    await s.update((tx) => {
      tx.remove("task", "b");
      tx.remove("task", "e");
    });
    expect(slot1()).toEqual([]);
    expect(ofService()).toEqual(["d"]);
    await s.update((tx) => tx.remove("task", "d"));
    expect(ofService()).toEqual([]);
  });

  it("reads its own writes inside a transaction", async () => {
    const s = newStore();
    await s.update((tx) => {
      tx.create("service", svc("s1", "web"));
      expect(tx.get("service", "s1")).toBeDefined();
      expect(tx.list("service").map((o) => o.id)).toEqual(["s1"]);
      tx.remove("service", "s1");
      expect(tx.get("service", "s1")).toBeUndefined();
      tx.create("service", svc("s2", "web"));
    });
    expect(s.view((r) => r.list("service").map((o) => o.id))).toEqual(["s2"]);
  });

  it("streams events in commit order with a commit marker after each transaction", async () => {
    const s = newStore();
    const w = s.watch({ kinds: ["service"] });
    await s.update((tx) => tx.create("service", svc("s1", "web")));
    const read = clone(s.view((r) => r.get("service", "s1")) as Obj);
    await s.update((tx) => tx.update("service", { ...read, spec: { name: "web2" } } as Obj));
    await s.update((tx) => tx.create("task", { id: "t1", spec: { name: "" } } as Obj));
    await s.update((tx) => tx.remove("service", "s1"));
    const got: string[] = [];
    for await (const e of w) {
      got.push(e.type === "commit" ? `commit@${e.version}` : `${e.type}:${e.kind}@${e.version}`);
      if (got.length === 7) break;
    }
    expect(got).toEqual([
      "create:service@1",
      "commit@1",
      "update:service@2",
      "commit@2",
      "commit@3",
      "remove:service@4",
      "commit@4",
    ]);
  });

  it("resumes a watch from a version, and refuses one older than the kept history", async () => {
    const s = new MemoryStore({ codec: jsonCodec, schemas, eventHistory: 4 });
    s.setProposer(new LocalProposer(s));
    for (let i = 1; i <= 3; i++) await s.update((tx) => tx.create("service", svc(`s${i}`, `n${i}`)));
    const w = s.watch({ sinceVersion: 1 });
    const replay: StoreEvent[] = [];
    for await (const e of w) {
      replay.push(e);
      if (replay.length === 4) break;
    }
    expect(replay.map((e) => `${e.type}@${e.version}`)).toEqual(["create@2", "commit@2", "create@3", "commit@3"]);
    for (let i = 4; i <= 10; i++) await s.update((tx) => tx.create("service", svc(`s${i}`, `n${i}`)));
    expect(() => s.watch({ sinceVersion: 1 })).toThrow(/cannot resume the watch from version 1/);
    expect(() => s.watch({ sinceVersion: 8 })).not.toThrow();
  });

  it("round-trips every table through a snapshot, and resets watchers", async () => {
    const s = newStore();
    await s.update((tx) => {
      tx.create("service", svc("s1", "web", { a: "b" }));
      tx.create("task", { id: "t1", spec: { name: "" }, serviceId: "s1", slot: 1 } as Obj);
      tx.create("node", { id: "n1" });
      tx.create("network", { id: "net1" });
      tx.create("secret", { id: "sec1" });
      tx.create("config", { id: "cfg1" });
      tx.create("cluster", { id: "c1" });
    });
    const w = s.watch();
    const copy = newStore();
    copy.restore(s.snapshot(), 1);
    expect(copy.version).toBe(1);
    for (const kind of ["service", "task", "node", "network", "secret", "config", "cluster"] as const) {
      expect(copy.view((r) => r.list(kind))).toEqual(s.view((r) => r.list(kind)));
    }
    expect(copy.view((r) => r.find("task", "service", "s1").length)).toBe(1);
    s.restore(s.snapshot(), 5);
    await expect(w.next()).rejects.toThrow(/replaced by a snapshot/);
  });

  it("runs a batch as many bounded transactions and reports each failure", async () => {
    const s = newStore();
    const r = await s.batch((b) => {
      for (let i = 0; i < 500; i++) b.update((tx) => tx.create("task", { id: `t${i}`, spec: { name: "" }, serviceId: "s", slot: i } as Obj));
      b.update((tx) => tx.create("task", { id: "t0", spec: { name: "" } } as Obj));
    }, 32);
    expect(r.committed).toBe(500);
    expect(r.failed.map((e) => (e as { code?: string }).code)).toEqual(["ALREADY_EXISTS"]);
    expect(s.view((v) => v.count("task"))).toBe(500);
  });

  it("refuses a transaction over the size limit instead of truncating it", async () => {
    const s = newStore(1000);
    await expect(s.update((tx) => tx.create("service", svc("s1", "x".repeat(2000))))).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringMatching(/over the limit of 1000 bytes; nothing was written/),
    });
    expect(s.view((r) => r.count("service"))).toBe(0);
  });
});
