// Managers with real Raft (loopback gRPC, level on disk): the store replicates, recovers after a
// restart, and leader components run on exactly one manager.
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Service } from "../proto/gen/objects.js";
import type { LeaderComponent } from "./leader-components.js";
import { Manager } from "./manager.js";
import { RaftTransport } from "./raft/index.js";
import { closedPort } from "./raft/transport/test-support.js";
import type { StoreObject } from "./store/index.js";

interface Running {
  id: number;
  dir: string;
  port: number;
  mgr: Manager;
  server: grpc.Server;
  running: Set<string>;
}

const live: Running[] = [];
const dirs: string[] = [];
/** Which managers run the "scheduler" component right now. */
const runningOn = new Set<number>();

afterEach(async () => {
  for (const r of live.splice(0)) await stop(r);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  runningOn.clear();
});

async function waitUntil(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function probe(id: number): LeaderComponent {
  return {
    name: "scheduler",
    start: () => {
      if (runningOn.size > 0) throw new Error(`scheduler already runs on ${[...runningOn].join(",")}`);
      runningOn.add(id);
    },
    stop: () => void runningOn.delete(id),
  };
}

async function start(id: number, init: Parameters<typeof Manager.open>[1], dir?: string, port?: number): Promise<Running> {
  const d = dir ?? mkdtempSync(path.join(tmpdir(), `mgr-${id}-`));
  if (!dir) dirs.push(d);
  const p = port ?? (await closedPort());
  const mgr = await Manager.open(
    {
      raftId: id,
      clusterId: "c",
      dataDir: d,
      clientCredentials: grpc.credentials.createInsecure(),
      tickMs: 20,
      snapshotInterval: 20,
      components: () => [probe(id)],
    },
    init,
  );
  const { server } = await RaftTransport.listen(mgr.raft.transport, `127.0.0.1:${p}`, grpc.ServerCredentials.createInsecure());
  mgr.start();
  const r = { id, dir: d, port: p, mgr, server, running: new Set<string>() };
  live.push(r);
  return r;
}

async function stop(r: Running): Promise<void> {
  const i = live.indexOf(r);
  if (i >= 0) live.splice(i, 1);
  await r.mgr.stop();
  r.server.forceShutdown();
}

async function threeManagers(): Promise<Running[]> {
  const port = await closedPort();
  const a = await start(1, { bootstrap: { addr: `127.0.0.1:${port}` } }, undefined, port);
  await waitUntil(() => a.mgr.isLeader(), "manager 1 to lead");
  const rest: Running[] = [];
  for (const id of [2, 3]) {
    const m = await start(id, { join: { members: [{ id: 1, addr: `127.0.0.1:${port}` }] } });
    await a.mgr.raft.addMember(id, `127.0.0.1:${m.port}`);
    rest.push(m);
  }
  return [a, ...rest];
}

const service = (id: string, name: string): StoreObject =>
  Service.fromPartial({ id, spec: { annotations: { name }, mode: { $case: "replicated", replicated: { replicas: 1 } } } }) as unknown as StoreObject;

describe("Manager", () => {
  it("replicates store writes to every manager and refuses writes on a follower as unavailable", async () => {
    const ms = await threeManagers();
    const leader = ms[0]!;
    for (let i = 0; i < 30; i++) await leader.mgr.store.update((tx) => tx.create("service", service(`s${i}`, `web${i}`)));
    await waitUntil(() => ms.every((m) => m.mgr.store.view((r) => r.count("service")) === 30), "every store to hold 30 services");
    for (const m of ms) expect(m.mgr.store.view((r) => r.resolve("service", "web7").id)).toBe("s7");
    await expect(ms[1]!.mgr.store.update((tx) => tx.create("service", service("x", "x")))).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringContaining("not the leader"),
    });
  });

  it("recovers its store from snapshot plus log after a restart", async () => {
    const ms = await threeManagers();
    const leader = ms[0]!;
    for (let i = 0; i < 50; i++) await leader.mgr.store.update((tx) => tx.create("service", service(`s${i}`, `web${i}`)));
    const victim = ms[2]!;
    await waitUntil(() => victim.mgr.store.view((r) => r.count("service")) === 50, "manager 3 to catch up");
    await stop(victim);
    for (let i = 50; i < 60; i++) await leader.mgr.store.update((tx) => tx.create("service", service(`s${i}`, `web${i}`)));
    const back = await start(3, undefined, victim.dir, victim.port);
    expect(back.mgr.store.view((r) => r.count("service"))).toBeGreaterThanOrEqual(20); // from its own snapshot, before any network
    await waitUntil(() => back.mgr.store.view((r) => r.count("service")) === 60, "restarted manager to catch up");
    expect(back.mgr.store.view((r) => r.list("service").map((o) => o.id).sort())).toEqual(
      leader.mgr.store.view((r) => r.list("service").map((o) => o.id).sort()),
    );
  });

  it("runs leader components on exactly one manager, moving them with leadership", async () => {
    const ms = await threeManagers();
    await waitUntil(() => runningOn.has(1), "components to start on the leader");
    expect(ms[0]!.mgr.status().components).toEqual(["scheduler"]);
    await ms[0]!.mgr.raft.transferLeadership(2);
    await waitUntil(() => runningOn.has(2), "components to move to manager 2");
    expect([...runningOn]).toEqual([2]);
    expect(ms[0]!.mgr.status().components).toEqual([]);
  });
});
