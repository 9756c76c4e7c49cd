// Forms a bench's cluster on its engine hosts: the first host founds it, the next `managers − 1`
// join as managers (one at a time, each a reachable voter before the workers come), the rest join
// as workers; resolves once every node is READY.
import { NodeState } from "../../proto/gen/types.js";
import type { EngineHost } from "../converge/engine-hosts.js";
import { daemonInfo, daemonInit, daemonJoin, LocalControl } from "./swarmd-api.js";
import { waitFor } from "./wait.js";

const FORM_TIMEOUT_MS = 60_000;

/** Init on `hosts[0]`, managers joined, then workers; every node READY. */
export async function formCluster(hosts: readonly EngineHost[], managers: number): Promise<void> {
  if (managers < 1 || managers > hosts.length) throw new Error(`managers: ${managers} is not allowed; between 1 and the ${hosts.length} hosts`);
  const [first, ...rest] = hosts;
  const init = await daemonInit(first!.socket, first!.addr);
  const control = new LocalControl(first!.socket);
  try {
    const { managerToken } = await control.clusterSecrets();
    for (const m of rest.slice(0, managers - 1)) await daemonJoin(m.socket, first!.addr, managerToken, m.addr);
    await waitFor(`${managers} reachable Raft voters`, FORM_TIMEOUT_MS, async () => {
      const raft = (await daemonInfo(first!.socket)).raft;
      return raft !== undefined && raft.members.length === managers && raft.members.every((x) => x.reachable && !x.learner);
    });
    await Promise.all(rest.slice(managers - 1).map((w) => daemonJoin(w.socket, first!.addr, init.workerToken, w.addr)));
    await waitFor(`${hosts.length} nodes READY`, FORM_TIMEOUT_MS, async () => (await control.nodes()).filter((n) => n.status?.state === NodeState.NODE_STATE_READY).length === hosts.length);
  } finally {
    control.close();
  }
}

/** Whether the swarmd on `socket` is the Raft leader. */
export async function isLeader(socket: string): Promise<boolean> {
  const raft = (await daemonInfo(socket)).raft;
  return raft !== undefined && raft.leaderRaftId === raft.raftId;
}
