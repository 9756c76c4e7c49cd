// Log compaction and InstallSnapshot (§7 of the Raft paper), with etcd's snapshot flow control:
// a follower in snapshot state gets nothing else until the driver reports the outcome.
import { describe, expect, it } from "vitest";
import { ProgressState } from "./progress.js";
import { bytes, cc, Network, text, type TestNode } from "./test-network.js";
import { ConfChangeType, MessageType, message, type Message, type Snapshot } from "./types.js";

function drain(n: TestNode): Message[] {
  const out: Message[] = [];
  while (n.raw.hasReady()) out.push(...n.handleReady());
  return out;
}

/** A 3-member cluster led by 1 in which member 3 missed 10 entries that the leader then compacted. */
function laggingFollowerAfterCompaction(opts: { autoReportSnapshot?: boolean } = {}): { net: Network; b: number; snap: Snapshot } {
  const net = new Network(opts);
  const b = net.bootIndex;
  net.elect(1);
  net.isolate(3);
  for (let i = 0; i < 10; i++) net.propose(1, `e${i}`);
  const leader = net.node(1);
  expect(leader.appliedIndex).toBe(b + 11);
  const snap = leader.snapshotAndCompact();
  expect(leader.storage.firstIndex()).toBe(b + 12);
  return { net, b, snap };
}

describe("InstallSnapshot (§7)", () => {
  it("§7: a follower behind the leader's compacted log receives a snapshot, installs it and catches up", () => {
    const { net, b, snap } = laggingFollowerAfterCompaction();
    expect(snap.meta).toEqual({ index: b + 11, term: 2, confState: { voters: [1, 2, 3], learners: [] } });
    net.heal();
    net.clearSent();
    net.tick(1);
    const snaps = net.sentOf(MessageType.Snap);
    expect(snaps.map((m) => [m.from, m.to, m.snapshot!.meta.index, m.snapshot!.meta.term])).toEqual([[1, 3, b + 11, 2]]);
    const f = net.node(3);
    expect(f.snapshots.map((s) => [s.meta.index, text(s.data)])).toEqual([[b + 11, `snap@${b + 11}`]]);
    expect(f.storage.snapshot().meta.index).toBe(b + 11);
    expect(f.storage.firstIndex()).toBe(b + 12);
    expect(f.appliedIndex).toBe(b + 11);
    expect(f.committed).toBe(b + 11);
    expect(f.confState).toEqual({ voters: [1, 2, 3], learners: [] });
    // The compacted entries came in the snapshot, not one by one.
    expect(f.applied.filter((e) => e.index > b + 1)).toEqual([]);
    // The leader replicates to it normally again.
    const peer3 = () => net.node(1).raw.status().peers.find((p) => p.id === 3)!;
    expect([peer3().state, peer3().match]).toEqual([ProgressState.Replicate, b + 11]);
    const i = net.propose(1, "after");
    expect(i).toBe(b + 12);
    expect(f.appliedData()).toEqual(["after"]);
    expect(f.lastIndex).toBe(b + 12);
    expect(net.sentOf(MessageType.Snap).length).toBe(1);
  });

  it("§7: a member added after compaction starts from the snapshot, which carries the membership", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    net.propose(1, "x");
    net.node(1).raw.proposeConfChange(cc(ConfChangeType.AddLearner, 4));
    net.stabilize();
    expect(net.node(1).confState).toEqual({ voters: [1, 2, 3], learners: [4] });
    const snap = net.node(1).snapshotAndCompact();
    expect(snap.meta.index).toBe(b + 3);
    const n4 = net.addNode(4);
    net.tick(2);
    expect(n4.snapshots.map((s) => s.meta.index)).toEqual([b + 3]);
    expect(n4.confState).toEqual({ voters: [1, 2, 3], learners: [4] });
    expect(n4.raw.raft.isLearner).toBe(true);
    expect(n4.lead).toBe(1);
    net.propose(1, "y");
    expect(n4.appliedData()).toEqual(["y"]);
    expect(n4.committed).toBe(b + 4);
  });

  it("reportSnapshot(false) puts the follower back to probing, and the leader sends the snapshot again", () => {
    const { net, b } = laggingFollowerAfterCompaction({ autoReportSnapshot: false });
    const lost: Message[] = [];
    net.heal();
    net.intercept = (m) => {
      if (m.type === MessageType.Snap) {
        lost.push(m);
        return null;
      }
      return m;
    };
    const leader = net.node(1);
    const pr3 = () => leader.raw.raft.trk.progress.get(3)!;
    net.tick(1);
    expect(lost.map((m) => m.snapshot!.meta.index)).toEqual([b + 11]);
    expect([pr3().state, pr3().pendingSnapshot]).toEqual([ProgressState.Snapshot, b + 11]);
    // While in snapshot state nothing else is sent to it, however long we wait.
    net.clearSent();
    net.tick(5);
    expect(net.sentOf(MessageType.App, { to: 3 })).toEqual([]);
    expect(lost.length).toBe(1);
    // The driver reports the failure: back to probe (paused until the next heartbeat answer).
    leader.raw.reportSnapshot(3, false);
    expect([pr3().state, pr3().pendingSnapshot, pr3().next, pr3().isPaused()]).toEqual([ProgressState.Probe, 0, b + 2, true]);
    net.intercept = null;
    net.tick(1);
    expect(net.sentOf(MessageType.Snap, { to: 3 }).map((m) => m.snapshot!.meta.index)).toEqual([b + 11]);
    leader.raw.reportSnapshot(3, true);
    net.stabilize();
    expect(net.node(3).appliedIndex).toBe(b + 11);
    expect([pr3().state, pr3().match]).toEqual([ProgressState.Replicate, b + 11]);
  });

  it("reportSnapshot(true) before the follower's answer resumes probing after the snapshot index", () => {
    const { net, b } = laggingFollowerAfterCompaction({ autoReportSnapshot: false });
    net.heal();
    const held: Message[] = [];
    net.intercept = (m) => {
      if (m.type === MessageType.Snap) {
        held.push(m);
        return null;
      }
      return m;
    };
    net.tick(1);
    expect(held.length).toBe(1);
    const leader = net.node(1);
    leader.raw.reportSnapshot(3, true);
    const pr3 = leader.raw.raft.trk.progress.get(3)!;
    expect([pr3.state, pr3.next, pr3.isPaused()]).toEqual([ProgressState.Probe, b + 12, true]);
    net.intercept = null;
    net.inject(held[0]!);
    net.stabilize();
    expect([pr3.state, pr3.match]).toEqual([ProgressState.Replicate, b + 11]);
    expect(net.node(3).appliedIndex).toBe(b + 11);
  });

  it("a stale snapshot (at or below the follower's commit index) is ignored and answered with the commit index", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `e${i}`);
    const leader = net.node(1);
    const f = net.node(2);
    expect(f.committed).toBe(b + 6);
    const stale: Snapshot = {
      meta: { index: b + 3, term: 2, confState: { voters: [1, 2, 3], learners: [] } },
      data: bytes("stale"),
    };
    const before = f.persistedLog();
    f.raw.step(message({ type: MessageType.Snap, from: 1, to: 2, term: leader.term, snapshot: stale }));
    const out = drain(f);
    expect(out.map((m) => [m.type, m.to, m.index, m.reject])).toEqual([[MessageType.AppResp, 1, b + 6, false]]);
    expect(f.snapshots).toEqual([]);
    expect(f.storage.snapshot().meta.index).toBe(0);
    expect(f.persistedLog()).toEqual(before);
    expect(f.committed).toBe(b + 6);
  });

  it("a stale snapshot older than the follower's own compacted log is ignored (no rollback)", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    for (let i = 0; i < 5; i++) net.propose(1, `e${i}`);
    const f = net.node(2);
    f.snapshotAndCompact();
    expect(f.storage.firstIndex()).toBe(b + 7);
    const stale: Snapshot = {
      meta: { index: b + 3, term: 2, confState: { voters: [1, 2, 3], learners: [] } },
      data: bytes("stale"),
    };
    f.raw.step(message({ type: MessageType.Snap, from: 1, to: 2, term: net.node(1).term, snapshot: stale }));
    expect(drain(f).map((m) => [m.type, m.index])).toEqual([[MessageType.AppResp, b + 6]]);
    expect(f.snapshots).toEqual([]);
    expect(f.raw.raft.raftLog.hasPendingSnapshot()).toBe(false);
    expect([f.committed, f.lastIndex, f.storage.snapshot().meta.index]).toEqual([b + 6, b + 6, b + 6]);
  });

  it("a snapshot whose last entry the follower already has only advances its commit index", () => {
    const net = new Network({ nodes: { 2: { log: [2, 2, 2], term: 2 } } });
    const b = net.bootIndex;
    const f = net.node(2);
    expect(f.committed).toBe(b);
    const snap: Snapshot = { meta: { index: b + 2, term: 2, confState: { voters: [1, 2, 3], learners: [] } }, data: bytes("s") };
    f.raw.step(message({ type: MessageType.Snap, from: 1, to: 2, term: 2, snapshot: snap }));
    const out = drain(f);
    expect(out.map((m) => [m.type, m.index])).toEqual([[MessageType.AppResp, b + 2]]);
    expect(f.snapshots).toEqual([]);
    expect(f.committed).toBe(b + 2);
    expect(f.lastIndex).toBe(b + 3); // the entry after the snapshot is kept
    expect(f.applied.map((e) => e.index)).toEqual([1, 2, 3, b + 1, b + 2]);
  });

  it("a snapshot that predates the receiver's membership is installed (a joining member), which then cannot campaign", () => {
    // Intended difference from etcd, which ignores such a snapshot: the joining member learns its own
    // membership from the log entries after the snapshot.
    const net = new Network();
    const b = net.bootIndex;
    const n4 = net.addNode(4);
    const snap: Snapshot = { meta: { index: b + 5, term: 2, confState: { voters: [1, 2, 3], learners: [] } }, data: bytes("s") };
    n4.raw.step(message({ type: MessageType.Snap, from: 1, to: 4, term: 2, snapshot: snap }));
    expect(drain(n4).map((m) => [m.type, m.to, m.index])).toEqual([[MessageType.AppResp, 1, b + 5]]);
    expect(n4.snapshots.map((s) => s.meta.index)).toEqual([b + 5]);
    expect(n4.confState).toEqual({ voters: [1, 2, 3], learners: [] });
    expect(n4.raw.raft.promotable()).toBe(false);
    const out: Message[] = [];
    for (let i = 0; i < 100; i++) {
      n4.raw.tick();
      out.push(...drain(n4));
    }
    expect(out).toEqual([]);
  });

  it("end to end: the joining member learns its membership from the entries after a snapshot that predates it", () => {
    const net = new Network();
    const b = net.bootIndex;
    net.elect(1);
    net.propose(1, "x");
    net.node(1).snapshotAndCompact(); // membership {1, 2, 3}
    net.node(1).raw.proposeConfChange(cc(ConfChangeType.AddLearner, 4));
    net.stabilize();
    const n4 = net.addNode(4);
    net.tick(2);
    expect(n4.snapshots.map((s) => [s.meta.index, s.meta.confState])).toEqual([[b + 2, { voters: [1, 2, 3], learners: [] }]]);
    expect(n4.confState).toEqual({ voters: [1, 2, 3], learners: [4] });
    expect(n4.raw.raft.isLearner).toBe(true);
    expect(n4.committed).toBe(b + 3);
  });
});
