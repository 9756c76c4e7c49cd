// The role manager (leader only) moves each node's role towards the role its spec asks for.
// Promotion: the node's role becomes manager; the node sees it in its session, renews its
// certificate as a manager and joins Raft itself. Demotion: the node leaves Raft first (leadership
// is handed over when the leader itself is demoted; the next leader finishes the job), then its
// role becomes worker and the node renews its certificate as a worker. A removal that would cost
// the quorum is retried until it no longer does.
import { Node } from "../../proto/gen/objects.js";
import { NodeRole } from "../../proto/gen/types.js";
import type { LeaderComponent } from "../leader-components.js";
import type { RaftNode } from "../raft/index.js";
import type { MemoryStore } from "../store/index.js";

export interface RoleManagerOptions {
  store: MemoryStore;
  raft: RaftNode;
  /** How often nodes whose role could not change yet are tried again. Default 1,000 ms. */
  retryMs?: number;
  onError?: (nodeId: string, err: Error) => void;
}

export class RoleManager implements LeaderComponent {
  readonly name = "role-manager";
  private timer: NodeJS.Timeout | null = null;
  private stopWatch: (() => void) | null = null;
  private running: Promise<void> = Promise.resolve();
  private dirty = false;
  private active = false;

  constructor(private readonly opts: RoleManagerOptions) {}

  start(): void {
    this.active = true;
    const w = this.opts.store.watch({ kinds: ["node"] });
    this.stopWatch = () => w.close();
    void (async () => {
      try {
        for await (const e of w) if (e.type !== "commit") this.kick();
      } catch {
        // closed
      }
    })();
    this.timer = setInterval(() => this.kick(), this.opts.retryMs ?? 1000);
    this.kick();
  }

  async stop(): Promise<void> {
    this.active = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopWatch?.();
    this.stopWatch = null;
    await this.running;
  }

  private kick(): void {
    if (!this.active) return;
    if (this.dirty) return;
    this.dirty = true;
    this.running = this.running.then(async () => {
      this.dirty = false;
      if (this.active) await this.reconcileAll();
    });
  }

  private async reconcileAll(): Promise<void> {
    const pending = this.opts.store.view((r) =>
      (r.list("node") as Node[]).filter((n) => (n.spec?.desiredRole ?? NodeRole.NODE_ROLE_WORKER) !== n.role),
    );
    for (const n of pending) {
      if (!this.active) return;
      try {
        await this.reconcile(n);
      } catch (e) {
        this.opts.onError?.(n.id, e as Error);
      }
    }
  }

  private async reconcile(node: Node): Promise<void> {
    const { raft, store } = this.opts;
    const desired = node.spec?.desiredRole ?? NodeRole.NODE_ROLE_WORKER;
    if (desired === NodeRole.NODE_ROLE_WORKER) {
      const raftId = node.managerStatus?.raftId;
      if (raftId && raft.status().members.some((m) => m.id === raftId)) {
        if (raftId === raft.id) {
          // This leader is being demoted: hand over; the next leader removes it.
          this.active = false;
          await raft.transferLeadership();
          return;
        }
        await raft.removeMember(raftId);
      }
    }
    await store.update((tx) => {
      const cur = tx.get("node", node.id) as Node | undefined;
      if (!cur || (cur.spec?.desiredRole ?? NodeRole.NODE_ROLE_WORKER) !== desired || cur.role === desired) return;
      const next = Node.fromPartial(cur);
      next.role = desired;
      if (desired === NodeRole.NODE_ROLE_WORKER) next.managerStatus = undefined;
      tx.update("node", next);
    });
  }
}
