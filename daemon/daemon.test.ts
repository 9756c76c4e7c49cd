// Daemons in one process on loopback, with real mutual TLS between them: joins and refusals (bad
// tokens, a rotated token, another cluster's CA, nothing listening, a garbled CSR, a worker calling
// manager services), leaving, and autolock. A refused request must leave no trace in the cluster.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { CAClient } from "../proto/gen/ca.js";
import { RaftClient } from "../proto/gen/raft.js";
import { ControlClient } from "../proto/gen/control.js";
import { LocalNodeState } from "../proto/gen/daemon.js";
import { NodeRole, NodeState } from "../proto/gen/types.js";
import { bootstrapClientCredentials, managerChannelOptions, type NodeTls } from "../manager/ca/index.js";
import { closedPort } from "../manager/raft/transport/test-support.js";
import { Daemon } from "./daemon.js";
import { unary } from "./leader-call.js";

const dirs: string[] = [];
const daemons: Daemon[] = [];

afterEach(async () => {
  await Promise.all(daemons.splice(0).map((d) => d.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function newDaemon(dataDir?: string): Promise<{ d: Daemon; addr: string; dir: string }> {
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), "swarmd-test-"));
  if (!dataDir) dirs.push(dir);
  const addr = `127.0.0.1:${await closedPort()}`;
  const d = new Daemon({ dataDir: dir, listenAddr: addr, advertiseAddr: addr, logger: pino({ level: process.env["TEST_LOG"] ?? "silent" }), tickMs: 20, version: "test", executor: "sim" });
  daemons.push(d);
  await d.start();
  return { d, addr, dir };
}

async function initCluster(autolock = false): Promise<{ d: Daemon; addr: string; dir: string; unlockKey: string }> {
  const m = await newDaemon();
  const res = await m.d.init({ advertiseAddr: "", listenAddr: "", autolock, certExpiryMs: 0, forceNewCluster: false, dispatcherHeartbeatMs: 0 });
  return { ...m, unlockKey: res.unlockKey };
}

async function tokens(d: Daemon): Promise<{ worker: string; manager: string }> {
  const c = (await d.managerRuntime()!.control.listClusters({ filters: undefined })).clusters[0]!;
  return { worker: c.rootCa!.joinTokens!.worker, manager: c.rootCa!.joinTokens!.manager };
}

async function nodeCount(d: Daemon): Promise<number> {
  return (await d.managerRuntime()!.control.listNodes({ filters: undefined })).nodes.length;
}

function join(d: Daemon, token: string, remoteAddr: string): ReturnType<Daemon["join"]> {
  return d.join({ token, remoteAddr, advertiseAddr: "", listenAddr: "", availability: 0 });
}

async function refused(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { code: number }).code, message: (e as Error).message };
  }
  throw new Error("expected a refusal");
}

describe("swarmd joins", () => {
  it("joins a worker and a manager; the manager becomes a Raft member", async () => {
    const m = await initCluster();
    const t = await tokens(m.d);
    const w = await newDaemon();
    expect((await join(w.d, t.worker, m.addr)).role).toBe(NodeRole.NODE_ROLE_WORKER);
    const m2 = await newDaemon();
    expect((await join(m2.d, t.manager, m.addr)).role).toBe(NodeRole.NODE_ROLE_MANAGER);
    const info = await m2.d.info();
    expect(info.state).toBe(LocalNodeState.LOCAL_NODE_STATE_ACTIVE);
    expect(info.raft!.members.map((x) => x.addr).sort()).toEqual([m.addr, m2.addr].sort());
    expect(await nodeCount(m.d)).toBe(3);
    const roles = (await m.d.managerRuntime()!.control.listNodes({ filters: undefined })).nodes.map((n) => n.role).sort();
    expect(roles).toEqual([NodeRole.NODE_ROLE_WORKER, NodeRole.NODE_ROLE_MANAGER, NodeRole.NODE_ROLE_MANAGER].sort());
    await waitFor(async () => {
      const nodes = (await m.d.managerRuntime()!.control.listNodes({ filters: undefined })).nodes;
      return nodes.length === 3 && nodes.every((n) => n.status?.state === NodeState.NODE_STATE_READY);
    }, "every node to hold a session and be ready");
    // A worker's local Control calls are refused with docker's message.
    expect(w.d.controlUnavailableReason()?.message).toMatch(/^This node is not a swarm manager. Worker nodes can't be used/);
  });

  it("promotes a worker and demotes the leader: certificates and Raft membership follow", async () => {
    const m = await initCluster();
    const t = await tokens(m.d);
    const m2 = await newDaemon();
    await join(m2.d, t.manager, m.addr);
    const w = await newDaemon();
    await join(w.d, t.worker, m.addr);
    const control = (d: Daemon): NonNullable<ReturnType<Daemon["managerRuntime"]>>["control"] => d.managerRuntime()!.control;
    // Read-modify-write, again when a status write raced it (optimistic concurrency).
    const setRole = async (on: Daemon, nodeId: string, role: NodeRole): Promise<void> => {
      for (;;) {
        const n = (await control(on).getNode({ nodeId })).node!;
        try {
          await control(on).updateNode({ nodeId, nodeVersion: n.meta!.version, spec: { ...n.spec!, desiredRole: role } });
          return;
        } catch (e) {
          if (!/out of sequence/.test((e as Error).message)) throw e;
        }
      }
    };
    const wId = (await w.d.info()).nodeId;
    await setRole(m.d, wId, NodeRole.NODE_ROLE_MANAGER);
    await waitFor(async () => {
      const members = (await m.d.info()).raft?.members ?? [];
      return members.length === 3 && members.every((x) => !x.learner);
    }, "the leader to count the promoted worker as a voter");
    expect((await w.d.info()).role).toBe(NodeRole.NODE_ROLE_MANAGER);

    const mId = (await m.d.info()).nodeId;
    await setRole(m.d, mId, NodeRole.NODE_ROLE_WORKER);
    await waitFor(async () => (await m.d.info()).role === NodeRole.NODE_ROLE_WORKER, "the demoted leader to become a worker", 30_000);
    await waitFor(async () => (await m2.d.info()).raft?.members.length === 2, "Raft to drop the demoted leader");
    expect(m.d.managerRuntime()).toBeNull();
    const leader = (await m2.d.info()).raft!;
    expect(leader.members.map((x) => x.nodeId).sort()).toEqual([(await m2.d.info()).nodeId, wId].sort());
  });

  it("refuses bad joins with clear errors and leaves no trace", async () => {
    const m = await initCluster();
    const t = await tokens(m.d);
    const other = await initCluster();
    const j = await newDaemon();

    const badSecret = t.worker.replace(/-[0-9a-z]{25}$/, "-0000000000000000000000000");
    expect(await refused(join(j.d, badSecret, m.addr))).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      message: "the join token is not valid (it may have been rotated): get the current one with `swarm join-token worker|manager` on a manager",
    });
    expect((await refused(join(j.d, "SWMTKN-1-nonsense", m.addr))).code).toBe(grpc.status.INVALID_ARGUMENT);

    const otherToken = (await tokens(other.d)).worker;
    const mitm = await refused(join(j.d, otherToken, m.addr));
    expect(mitm.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(mitm.message).toMatch(/does not match the join token: refusing to join/);

    const nowhere = await refused(join(j.d, t.worker, `127.0.0.1:${await closedPort()}`));
    expect(nowhere.code).toBe(grpc.status.UNAVAILABLE);
    expect(nowhere.message).toMatch(/^cannot reach a manager at 127\.0\.0\.1:\d+/);

    // A manager token used after rotation.
    const c = (await m.d.managerRuntime()!.control.listClusters({ filters: undefined })).clusters[0]!;
    await m.d.managerRuntime()!.control.updateCluster({
      clusterId: c.id,
      clusterVersion: c.meta!.version,
      spec: c.spec,
      rotation: { workerJoinToken: false, managerJoinToken: true, managerUnlockKey: false },
    });
    expect((await refused(join(j.d, t.manager, m.addr))).message).toMatch(/^the join token is not valid \(it may have been rotated\)/);

    expect(await nodeCount(m.d)).toBe(1);
    expect((await j.d.info()).state).toBe(LocalNodeState.LOCAL_NODE_STATE_INACTIVE);
    expect(readdirSync(j.dir)).toEqual([]);
  });

  it("refuses a garbled CSR without creating a node", async () => {
    const m = await initCluster();
    const t = await tokens(m.d);
    const caCert = m.d.managerRuntime()!.manager.store.view((r) => (r.list("cluster")[0] as unknown as { rootCa: { caCert: Uint8Array } }).rootCa.caCert);
    const root = Buffer.from(caCert).toString();
    const client = new CAClient(m.addr, bootstrapClientCredentials(root), managerChannelOptions());
    const err = await refused(
      unary((md, o, cb) => client.issueNodeCertificate({ csr: Buffer.from("not a csr"), token: t.worker, hostname: "x", advertiseAddr: "", availability: 0 }, md, o, cb), 5000),
    );
    client.close();
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.message).toMatch(/invalid certificate signing request/);
    expect(await nodeCount(m.d)).toBe(1);
  });

  it("refuses a worker's certificate on manager-only services", async () => {
    const m = await initCluster();
    const w = await newDaemon();
    await join(w.d, (await tokens(m.d)).worker, m.addr);
    const tls = (w.d as unknown as { tls: NodeTls }).tls;
    const client = new ControlClient(m.addr, tls.clientCredentials(), tls.channelOptions());
    const err = await refused(unary((md, o, cb) => client.listNodes({ filters: undefined }, md, o, cb), 5000));
    client.close();
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.message).toMatch(/role swarm-worker may not call \/swarm\.v1\.Control\/ListNodes/);
    // Raft too: a worker's stream is refused before any message is read.
    const raft = new RaftClient(m.addr, tls.clientCredentials(), tls.channelOptions());
    const raftErr = await new Promise<grpc.ServiceError>((resolve) => {
      const call = raft.streamMessages((e) => resolve(e!));
      call.end();
    });
    raft.close();
    expect(raftErr.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(raftErr.details).toMatch(/role swarm-worker may not call \/swarm\.raft\.v1\.Raft\/StreamMessages/);
  });

  it("refuses a demotion that would cost the quorum, with the arithmetic", async () => {
    const m = await initCluster();
    const t = await tokens(m.d);
    const m2 = await newDaemon();
    await join(m2.d, t.manager, m.addr);
    const m3 = await newDaemon();
    await join(m3.d, t.manager, m.addr);
    await waitFor(async () => {
      const members = (await m.d.info()).raft?.members ?? [];
      return members.length === 3 && members.every((x) => !x.learner);
    }, "three voting managers");
    await m3.d.stop();
    const m2Id = (await m2.d.info()).nodeId;
    await waitFor(async () => {
      const n = (await m.d.managerRuntime()!.control.getNode({ nodeId: (await m3.d.info()).nodeId })).node!;
      return n.managerStatus?.reachability === 1;
    }, "the stopped manager to be unreachable");
    const n = (await m.d.managerRuntime()!.control.getNode({ nodeId: m2Id })).node!;
    const err = await refused(
      m.d.managerRuntime()!.control.updateNode({ nodeId: m2Id, nodeVersion: n.meta!.version, spec: { ...n.spec!, desiredRole: NodeRole.NODE_ROLE_WORKER } }),
    );
    expect(err.message).toBe("demoting would leave 1 of 2 voting managers reachable: quorum needs 2");
    expect((await m.d.managerRuntime()!.control.getNode({ nodeId: m2Id })).node!.spec!.desiredRole).toBe(NodeRole.NODE_ROLE_MANAGER);
  });

  it("rebuilds a one-manager cluster with --force-new-cluster after losing quorum for good", async () => {
    const m = await initCluster();
    const t = await tokens(m.d);
    const others = [await newDaemon(), await newDaemon()];
    for (const o of others) await join(o.d, t.manager, m.addr);
    await waitFor(async () => ((await m.d.info()).raft?.members ?? []).filter((x) => !x.learner).length === 3, "three voting managers");
    const survivor = others[0]!;
    for (const d of [m.d, others[1]!.d]) await d.stop();
    const res = await survivor.d.init({ advertiseAddr: "", listenAddr: "", autolock: false, certExpiryMs: 0, forceNewCluster: true, dispatcherHeartbeatMs: 0 });
    expect(res.clusterId).toBe((await survivor.d.info()).clusterId);
    const info = await survivor.d.info();
    expect(info.raft!.members.map((x) => x.addr)).toEqual([survivor.addr]);
    expect(info.raft!.leaderRaftId).toBe(info.raft!.raftId);
    await waitFor(async () => (await nodeCount(survivor.d)) === 3, "the survivor's store to hold all three nodes");
  });

  it("leaves: the last manager needs force; a worker leaves at once", async () => {
    const m = await initCluster();
    const w = await newDaemon();
    await join(w.d, (await tokens(m.d)).worker, m.addr);
    await w.d.leave(false);
    expect((await w.d.info()).state).toBe(LocalNodeState.LOCAL_NODE_STATE_INACTIVE);
    expect(readdirSync(w.dir)).toEqual([]);
    expect((await refused(m.d.leave(false))).message).toMatch(/Removing the last manager erases all current state of the swarm/);
    await m.d.leave(true);
    expect((await m.d.info()).state).toBe(LocalNodeState.LOCAL_NODE_STATE_INACTIVE);
  });
});

describe("autolock", () => {
  it("a restarted manager stays locked until the right unlock key is given", async () => {
    const m = await initCluster(true);
    expect(m.unlockKey).toMatch(/^SWMKEY-1-/);
    await m.d.stop();
    // Keys on disk: owner-only, and the private key is not readable without the unlock key.
    const certs = path.join(m.dir, "certificates");
    for (const f of readdirSync(certs)) expect(statSync(path.join(certs, f)).mode & 0o777, f).toBe(0o600);
    expect(readFileSync(path.join(certs, "swarm-node.key"), "utf8")).not.toMatch(/PRIVATE KEY/);
    const again = await newDaemon(m.dir);
    expect((await again.d.info()).state).toBe(LocalNodeState.LOCAL_NODE_STATE_LOCKED);
    expect(again.d.managerRuntime()).toBeNull();
    expect(again.d.controlUnavailableReason()?.message).toMatch(/needs to be unlocked/);
    const wrong = await refused(again.d.unlock("SWMKEY-1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    expect(wrong.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(wrong.message).toMatch(/^invalid key/);
    expect((await again.d.info()).state).toBe(LocalNodeState.LOCAL_NODE_STATE_LOCKED);
    await again.d.unlock(m.unlockKey);
    expect((await again.d.info()).state).toBe(LocalNodeState.LOCAL_NODE_STATE_ACTIVE);
    await waitFor(async () => again.d.managerRuntime()!.isLeader(), "the unlocked manager to lead");

    // Rotating the key re-wraps this manager's keys: after a restart only the new key unlocks it.
    const control = again.d.managerRuntime()!.control;
    const c = (await control.listClusters({ filters: undefined })).clusters[0]!;
    await control.updateCluster({ clusterId: c.id, clusterVersion: c.meta!.version, spec: c.spec, rotation: { workerJoinToken: false, managerJoinToken: false, managerUnlockKey: true } });
    const rotated = (await control.getUnlockKey({})).unlockKey;
    expect(rotated).not.toBe(m.unlockKey);
    await waitFor(async () => {
      const d = again.d as unknown as { kek: Buffer | null };
      return d.kek !== null && `SWMKEY-1-${d.kek.toString("base64").replace(/=+$/, "")}` === rotated;
    }, "the manager to re-wrap its keys with the rotated key");
    await again.d.stop();
    const third = await newDaemon(m.dir);
    expect((await refused(third.d.unlock(m.unlockKey))).message).toMatch(/^invalid key/);
    await third.d.unlock(rotated);
    await waitFor(async () => (await nodeCount(third.d)) === 1, "the unlocked manager to replay its log");
  });
});

async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
