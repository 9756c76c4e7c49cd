// Rebuilding a one-member cluster from a surviving member's state, when quorum is lost for good
// (etcd's and SwarmKit's --force-new-cluster): entries that were never committed are dropped, and
// committed entries that remove every other member are appended. The node then applies them on
// start, finds itself the only voter and elects itself. Nothing committed is lost.
import { decodeConfChange, encodeConfChange } from "../core/conf-change-codec.js";
import { ConfChangeType, EntryType, type ConfState, type Entry, type NodeId } from "../core/types.js";
import type { LoadedRaftState, RaftDiskStorage } from "../storage/index.js";

/** The membership after the snapshot plus the committed entries. */
function committedConfState(loaded: LoadedRaftState): ConfState {
  const voters = new Set(loaded.snapshot?.meta.confState.voters ?? []);
  const learners = new Set(loaded.snapshot?.meta.confState.learners ?? []);
  for (const e of loaded.entries) {
    if (e.index > loaded.hardState.commit || e.type !== EntryType.ConfChange) continue;
    const cc = decodeConfChange(e.data);
    voters.delete(cc.nodeId);
    learners.delete(cc.nodeId);
    if (cc.type === ConfChangeType.AddVoter) voters.add(cc.nodeId);
    if (cc.type === ConfChangeType.AddLearner) learners.add(cc.nodeId);
  }
  return { voters: [...voters], learners: [...learners] };
}

/** Rewrites the stored log so that `self` is the only member; returns the new loaded state. */
export async function forceNewCluster(storage: RaftDiskStorage, loaded: LoadedRaftState, self: NodeId): Promise<LoadedRaftState> {
  const commit = loaded.hardState.commit;
  if (commit === 0) throw new Error("this member has no committed state to rebuild a cluster from");
  const cs = committedConfState(loaded);
  if (!cs.voters.includes(self)) throw new Error(`member ${self.toString(16)} is not a voter of its last committed configuration`);
  const kept = loaded.entries.filter((e) => e.index <= commit);
  const term = loaded.hardState.term + 1;
  let index = commit;
  const removals: Entry[] = [...cs.voters, ...cs.learners]
    .filter((id) => id !== self)
    .map((id) => ({
      term,
      index: ++index,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: id, context: new Uint8Array(0) }),
    }));
  // An empty entry of the new term ends the old log's uncommitted suffix even when nobody is removed.
  const entries: Entry[] = [...removals, { term, index: ++index, type: EntryType.Normal, data: new Uint8Array(0) }];
  const hardState = { term, vote: self, commit: index };
  await storage.save({ hardState, entries, snapshot: null });
  return { hardState, snapshot: loaded.snapshot, entries: [...kept, ...entries] };
}
