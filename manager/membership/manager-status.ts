// How managers look from the leader's Raft: which one leads and which are reachable (shown by
// `node ls` and `node inspect`), and whether demoting one now would cost the quorum.
import type { Node } from "../../proto/gen/objects.js";
import { NodeRole, Reachability, type ManagerStatus } from "../../proto/gen/types.js";
import type { ManagerMembership } from "../controlapi/control-service.js";
import type { RaftNode } from "../raft/index.js";

/**
 * Raft's view of the members: who leads and who is reachable (a follower knows only itself and the
 * leader). A peer counts as reachable when it answered within the current check-quorum window or
 * its message stream is open: right after each window starts, no peer has answered yet.
 */
function reachableIds(raft: RaftNode): { lead: number; reachable: Set<number>; voters: number[] } {
  const st = raft.status();
  const reachable = new Set<number>([raft.id]);
  if (st.lead) reachable.add(st.lead);
  for (const p of st.peers) if (p.recentActive) reachable.add(p.id);
  for (const p of st.transport.peers) if (p.connected) reachable.add(p.id);
  return { lead: st.lead, reachable, voters: st.confState.voters };
}

function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

export function raftManagerMembership(raft: RaftNode): ManagerMembership {
  // One read of Raft's status serves a whole `node ls` (every node asked in the same turn).
  let cached: { ids: ReturnType<typeof reachableIds>; members: number[] } | null = null;
  const view = (): { ids: ReturnType<typeof reachableIds>; members: number[] } => {
    if (!cached) {
      cached = { ids: reachableIds(raft), members: raft.status().members.map((m) => m.id) };
      queueMicrotask(() => (cached = null));
    }
    return cached;
  };
  return {
    managerStatus(node: Node): ManagerStatus | undefined {
      const ms = node.managerStatus;
      if (node.role !== NodeRole.NODE_ROLE_MANAGER || !ms?.raftId) return undefined;
      const { ids, members } = view();
      const { lead, reachable } = ids;
      if (!members.includes(ms.raftId)) {
        return { ...ms, leader: false, reachability: Reachability.REACHABILITY_UNKNOWN };
      }
      return {
        ...ms,
        leader: ms.raftId === lead,
        reachability: reachable.has(ms.raftId) ? Reachability.REACHABILITY_REACHABLE : Reachability.REACHABILITY_UNREACHABLE,
      };
    },
    demotionBlocker(node: Node): string | null {
      const id = node.managerStatus?.raftId;
      const { reachable, voters } = reachableIds(raft);
      if (!id || !voters.includes(id)) return null;
      const remaining = voters.filter((v) => v !== id);
      const up = remaining.filter((v) => reachable.has(v)).length;
      if (remaining.length > 0 && up >= quorum(remaining.length)) return null;
      const learners = raft.status().confState.learners.length;
      const catchingUp = learners > 0 ? ` (${learners} more ${learners === 1 ? "is" : "are"} still catching up and cannot vote yet; retry shortly)` : "";
      return `demoting would leave ${up} of ${remaining.length} voting managers reachable: quorum needs ${quorum(remaining.length)}${catchingUp}`;
    },
  };
}
