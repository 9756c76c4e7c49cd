// The driver with real parts: members in one process, loopback gRPC, level on disk.
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RaftTransport } from "../transport/index.js";
import { closedPort as freePort } from "../transport/test-support.js";
import { AesGcmEncryptor, RaftDiskStorage, RaftStorageCorruptionError } from "../storage/index.js";
import { RaftNode } from "./raft-node.js";
import type { StateMachine } from "./options.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A log of applied strings; snapshot = the whole list as JSON. */
class ListMachine implements StateMachine {
  items: string[] = [];
  apply(data: Uint8Array): unknown {
    const s = dec.decode(data);
    if (s === "boom") throw new Error("the state machine refused boom");
    this.items.push(s);
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = data.length ? (JSON.parse(dec.decode(data)) as string[]) : [];
  }
}

interface Member {
  id: number;
  dir: string;
  addr: string;
  port: number;
  sm: ListMachine;
  node: RaftNode;
  server: grpc.Server;
}

const live: Member[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const m of live.splice(0)) await stopMember(m);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function waitUntil(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const key = new Uint8Array(32).fill(7);


async function startMember(
  id: number,
  init: Parameters<typeof RaftNode.open>[1],
  opts: { dir?: string; port?: number; snapshotInterval?: number; keepEntries?: number; requestTimeoutMs?: number } = {},
): Promise<Member> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), `raft-node-${id}-`));
  if (!opts.dir) dirs.push(dir);
  const sm = new ListMachine();
  const node = await RaftNode.open(
    {
      id,
      clusterId: "test-cluster",
      dataDir: dir,
      stateMachine: sm,
      clientCredentials: grpc.credentials.createInsecure(),
      encryptor: new AesGcmEncryptor(key),
      tickMs: 20,
      seed: id,
      snapshotInterval: opts.snapshotInterval ?? 10_000,
      keepEntries: opts.keepEntries ?? 500,
      requestTimeoutMs: opts.requestTimeoutMs ?? 5_000,
    },
    init,
  );
  const { server, port } = await RaftTransport.listen(node.transport, `127.0.0.1:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure());
  node.start();
  const m = { id, dir, addr: `127.0.0.1:${port}`, port, sm, node, server };
  live.push(m);
  return m;
}

async function stopMember(m: Member): Promise<void> {
  const i = live.indexOf(m);
  if (i >= 0) live.splice(i, 1);
  await m.node.stop();
  m.server.forceShutdown();
}

/** Founds a cluster on member 1 and adds members 2..n as voters. */
async function cluster(n: number, opts: Parameters<typeof startMember>[2] = {}): Promise<Member[]> {
  const port = await freePort();
  const first = await startMember(1, { bootstrap: { addr: `127.0.0.1:${port}` } }, { ...opts, port });
  await waitUntil(() => first.node.isLeader(), "member 1 to lead");
  const ms = [first];
  for (let id = 2; id <= n; id++) {
    const m = await startMember(id, { join: { members: [{ id: 1, addr: first.addr }] } }, opts);
    await first.node.addMember(id, m.addr);
    ms.push(m);
  }
  return ms;
}

describe("RaftNode", () => {
  it("replicates proposals to every member and resolves them with the state machine's result", async () => {
    const ms = await cluster(3);
    const leader = ms[0]!;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => leader.node.propose(enc.encode(`v${i}`))));
    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await waitUntil(() => ms.every((m) => m.sm.items.length === 200), "every member to apply 200 entries");
    for (const m of ms) expect(m.sm.items).toEqual(leader.sm.items);
    expect(leader.node.status().confState.voters).toEqual([1, 2, 3]);
    expect(leader.node.status().commitLatencyMs.p99).toBeGreaterThan(0);
  });

  it("rejects a proposal on a follower naming the leader and its address", async () => {
    const ms = await cluster(3);
    const follower = ms[2]!;
    await waitUntil(() => follower.node.leader().id === 1, "follower to know the leader");
    await expect(follower.node.propose(enc.encode("x"))).rejects.toMatchObject({
      code: "RAFT_NOT_LEADER",
      message: expect.stringContaining(`at ${ms[0]!.addr}`),
    });
  });

  it("rejects an oversized proposal and passes state machine errors to the proposer", async () => {
    const [leader] = await cluster(1);
    await expect(leader!.node.propose(new Uint8Array(2 * 1024 * 1024))).rejects.toMatchObject({
      code: "RAFT_INVALID_REQUEST",
      message: expect.stringContaining("2097152 bytes"),
    });
    await expect(leader!.node.propose(enc.encode("boom"))).rejects.toThrow("refused boom");
    await expect(leader!.node.propose(enc.encode("ok"))).resolves.toBe(1);
  });

  it("recovers a restarted member from its snapshot and log, then catches up", async () => {
    const ms = await cluster(3, { snapshotInterval: 50, keepEntries: 10 });
    const leader = ms[0]!;
    for (let i = 0; i < 120; i++) await leader.node.propose(enc.encode(`a${i}`));
    const victim = ms[2]!;
    await waitUntil(() => victim.sm.items.length === 120, "member 3 to apply");
    await stopMember(victim);
    for (let i = 0; i < 200; i++) await leader.node.propose(enc.encode(`b${i}`));
    const back = await startMember(3, undefined, { dir: victim.dir, port: victim.port, snapshotInterval: 50, keepEntries: 10 });
    // It starts from its own snapshot, and the leader (which compacted past it) sends a newer one.
    expect(back.sm.items.length).toBeGreaterThanOrEqual(50);
    await waitUntil(() => back.sm.items.length === 320, "restarted member to catch up");
    expect(back.sm.items).toEqual(leader.sm.items);
    expect(leader.node.status().transport.snapshotsSent).toBeGreaterThan(0);
  });

  it("staggers periodic snapshots: each member at its own points of the interval, never two at once", async () => {
    const ms = await cluster(3, { snapshotInterval: 30 });
    const taken = new Map<number, number[]>(ms.map((m) => [m.id, []]));
    for (const m of ms) m.node.on("snapshot", (index: number) => taken.get(m.id)!.push(index));
    const leader = ms[0]!;
    for (let i = 0; i < 150; i++) await leader.node.propose(enc.encode(`s${i}`));
    await waitUntil(() => ms.every((m) => m.sm.items.length === 150), "every member to apply 150 entries");
    await waitUntil(() => ms.every((m) => taken.get(m.id)!.length >= 4), "four snapshots on every member");
    // Ranks 0, 1, 2 of three members: points 0, 10 and 20 of every 30 entries.
    for (const [rank, m] of ms.entries()) {
      const got = taken.get(m.id)!;
      for (const index of got) expect((index - rank * 10 + 30) % 30).toBeLessThan(3);
      for (let i = 1; i < got.length; i++) expect(got[i]! - got[i - 1]!).toBeGreaterThan(15);
    }
    const all = [...taken.values()].flat().sort((a, b) => a - b);
    for (let i = 1; i < all.length; i++) expect(all[i]! - all[i - 1]!).toBeGreaterThanOrEqual(5);
  });

  it("compacts a long stored log after a snapshot, slice by slice, keeping the entries after it", async () => {
    const [m] = (await cluster(1, { snapshotInterval: 1_400, keepEntries: 10 })) as [Member];
    const snapshots: number[] = [];
    m.node.on("snapshot", (index: number) => snapshots.push(index));
    for (let i = 0; i < 1_450; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => m.node.propose(enc.encode(`c${i + k}`))));
    await waitUntil(() => snapshots.length > 0, "a snapshot");
    await stopMember(m);
    const storage = await RaftDiskStorage.open(m.dir, { encryptor: new AesGcmEncryptor(key) });
    try {
      const loaded = await storage.load();
      expect(loaded.snapshot?.meta.index).toBe(snapshots[0]);
      expect(storage.firstIndex()).toBe(snapshots[0]! - 10 + 1);
      expect(loaded.entries.at(-1)?.index).toBe(storage.lastIndex());
    } finally {
      await storage.close();
    }
    const back = await startMember(1, undefined, { dir: m.dir, port: m.port, snapshotInterval: 1_400, keepEntries: 10 });
    await waitUntil(() => back.sm.items.length === 1_450, "the restarted member to apply the entries after its snapshot");
    expect(back.sm.items.slice(-2)).toEqual(["c1448", "c1449"]);
  });

  it("times out a proposal when no quorum answers, and the leader steps down", async () => {
    const ms = await cluster(3, { requestTimeoutMs: 600 });
    const leader = ms[0]!;
    await stopMember(ms[1]!);
    await stopMember(ms[2]!);
    const p = leader.node.propose(enc.encode("lonely"));
    await expect(p).rejects.toMatchObject({ code: expect.stringMatching(/RAFT_TIMEOUT|RAFT_NOT_LEADER/) });
    await waitUntil(() => !leader.node.isLeader(), "the isolated leader to step down (check-quorum)");
  });

  it("transfers leadership, serves linearizable reads on followers, and removes a member", async () => {
    const ms = await cluster(3);
    const [a, b, c] = ms as [Member, Member, Member];
    await a.node.propose(enc.encode("before"));
    const to = await a.node.transferLeadership(2);
    expect(to).toBe(2);
    await waitUntil(() => b.node.isLeader(), "member 2 to lead");
    await b.node.propose(enc.encode("after"));
    // Reads from two followers at once: the leader must answer both (contexts differ by member).
    await Promise.all([c.node.read(), a.node.read(), c.node.read()]);
    expect(c.sm.items).toEqual(["before", "after"]);
    await b.node.removeMember(3);
    expect(b.node.status().confState.voters).toEqual([1, 2]);
    await waitUntil(() => a.node.status().confState.voters.join() === "1,2", "member 1 to apply the removal");
    await stopMember(c);
    await b.node.propose(enc.encode("two-left"));
    await waitUntil(() => a.sm.items.length === 3, "member 1 to apply with two voters");
  });

  it("rebuilds a one-member cluster from a survivor's state with forceNewCluster, keeping every committed entry", async () => {
    const ms = await cluster(3);
    const leader = ms[0]!;
    for (let i = 0; i < 20; i++) await leader.node.propose(enc.encode(`v${i}`));
    await waitUntil(() => ms[2]!.sm.items.length === 20, "member 3 to apply 20 entries");
    for (const m of [...ms]) await stopMember(m);
    // Members 1 and 2 are gone for good; member 3 rebuilds the cluster alone.
    const survivor = await startMember(3, { forceNewCluster: true }, { dir: ms[2]!.dir });
    await waitUntil(() => survivor.node.isLeader(), "the survivor to lead alone");
    expect(survivor.node.status().confState).toEqual({ voters: [3], learners: [] });
    expect(survivor.sm.items).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    await survivor.node.propose(enc.encode("after"));
    expect(survivor.sm.items.at(-1)).toBe("after");
  });

  it("refuses to remove a member when the rest could not form a quorum", async () => {
    const ms = await cluster(3);
    const leader = ms[0]!;
    await stopMember(ms[2]!);
    await waitUntil(() => {
      const p = leader.node.status().peers.find((x) => x.id === 3);
      return p !== undefined && !p.recentActive;
    }, "member 3 to look inactive");
    await expect(leader.node.removeMember(2)).rejects.toMatchObject({
      code: "RAFT_INVALID_REQUEST",
      message: expect.stringContaining("fewer than a quorum"),
    });
  });

  it("streams a snapshot far larger than 4 MiB to a lagging member", async () => {
    const ms = await cluster(3, { snapshotInterval: 8, keepEntries: 2 });
    const leader = ms[0]!;
    const lagging = ms[2]!;
    await stopMember(lagging);
    const big = "x".repeat(1024 * 1024);
    for (let i = 0; i < 24; i++) await leader.node.propose(enc.encode(`${i}:${big}`));
    expect(leader.node.status().snapshotIndex).toBeGreaterThan(20);
    const back = await startMember(3, undefined, { dir: lagging.dir, port: lagging.port, snapshotInterval: 8, keepEntries: 2 });
    await waitUntil(() => back.sm.items.length === 24, "the lagging member to install the 24 MiB snapshot", 60_000);
    expect(back.sm.items.map((v) => v.slice(0, 3))).toEqual(leader.sm.items.map((v) => v.slice(0, 3)));
    expect(back.node.status().transport.snapshotsReceived).toBe(1);
  });

  it("refuses to start on a corrupt snapshot, naming the file", async () => {
    const ms = await cluster(1, { snapshotInterval: 5 });
    const m = ms[0]!;
    for (let i = 0; i < 12; i++) await m.node.propose(enc.encode(`v${i}`));
    await stopMember(m);
    const snapDir = path.join(m.dir, "snapshots");
    const newest = readdirSync(snapDir).filter((f) => f.endsWith(".snap")).sort().at(-1)!;
    const file = path.join(snapDir, newest);
    const bytes = readFileSync(file);
    bytes[bytes.length - 40]! ^= 0xff;
    writeFileSync(file, bytes);
    const err = await startMember(1, undefined, { dir: m.dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RaftStorageCorruptionError);
    expect((err as Error).message).toContain(newest);
  });
});
