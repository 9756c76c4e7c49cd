// Managers joining and leaving Raft, on the leader. A node holding a manager certificate joins as
// a learner (Raft promotes it to voter once it has caught up); its Raft id and address are kept in
// its node object, so `node ls` and the role manager can find it. Leaving hands leadership over
// first when the leaver leads, and is refused when it would cost the quorum.
import { Node } from "../../proto/gen/objects.js";
import type { RaftMembershipJoinResponse } from "../../proto/gen/membership.js";
import { NodeRole, Reachability } from "../../proto/gen/types.js";
import type { RaftNode } from "../raft/index.js";
import { StoreError, StoreErrorCode, type MemoryStore } from "../store/index.js";

export interface RaftMembershipOptions {
  raft: RaftNode;
  store: MemoryStore;
  /** A fresh Raft member id (non-zero, a safe integer). */
  newRaftId: () => number;
}

export class RaftMembership {
  constructor(private readonly opts: RaftMembershipOptions) {}

  /** Adds manager node `nodeId`, reachable at `addr`, as a member; idempotent. */
  async join(nodeId: string, addr: string): Promise<RaftMembershipJoinResponse> {
    const { raft, store } = this.opts;
    if (!addr) throw new StoreError(StoreErrorCode.InvalidArgument, "invalid addr \"\": a joining manager must give the host:port it is reachable at");
    const node = store.view((r) => r.get("node", nodeId)) as Node | undefined;
    if (!node) throw new StoreError(StoreErrorCode.NotFound, `node ${nodeId} is not a member of this cluster`);
    if (node.role !== NodeRole.NODE_ROLE_MANAGER) {
      throw new StoreError(StoreErrorCode.Conflict, `node ${nodeId} is not a manager: promote it first`);
    }
    const members = raft.status().members;
    const known = node.managerStatus?.raftId;
    const raftId = known && members.some((m) => m.id === known) ? known : this.opts.newRaftId();
    await store.update((tx) => {
      const cur = tx.get("node", nodeId) as Node | undefined;
      if (!cur) throw new StoreError(StoreErrorCode.NotFound, `node ${nodeId} was removed from the cluster`);
      const next = Node.fromPartial(cur);
      next.managerStatus = { raftId, addr, leader: false, reachability: Reachability.REACHABILITY_UNKNOWN };
      tx.update("node", next);
    });
    await raft.addMember(raftId, addr, false);
    const byRaftId = nodesByRaftId(store);
    return {
      raftId,
      members: raft.status().members.map((m) => ({ raftId: m.id, addr: m.addr, nodeId: byRaftId.get(m.id) ?? "" })),
    };
  }

  /** Removes manager node `nodeId` from Raft. On the leader itself, hands leadership over first (the caller retries there). */
  async leave(nodeId: string): Promise<void> {
    const { raft, store } = this.opts;
    const node = store.view((r) => r.get("node", nodeId)) as Node | undefined;
    const raftId = node?.managerStatus?.raftId;
    if (!raftId || !raft.status().members.some((m) => m.id === raftId)) return;
    if (raftId === raft.id) {
      await raft.transferLeadership();
      throw new StoreError(StoreErrorCode.Unavailable, "leadership was handed over before leaving; retry at the new leader");
    }
    try {
      await raft.removeMember(raftId);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "RAFT_INVALID_REQUEST") throw new StoreError(StoreErrorCode.Conflict, (e as Error).message);
      throw e;
    }
  }
}

/** Node ids of managers by their Raft id. */
export function nodesByRaftId(store: MemoryStore): Map<number, string> {
  return store.view((r) => {
    const out = new Map<number, string>();
    for (const n of r.find("node", "role", String(NodeRole.NODE_ROLE_MANAGER)) as Node[]) {
      if (n.managerStatus?.raftId) out.set(n.managerStatus.raftId, n.id);
    }
    return out;
  });
}
