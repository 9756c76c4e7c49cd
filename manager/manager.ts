// A manager: the Raft member and the replicated store it drives, recovered from the data
// directory, with the leader-only components started and stopped as leadership moves.
import type * as grpc from "@grpc/grpc-js";
import path from "node:path";
import { LeaderComponents, type ComponentEvents, type LeaderComponent } from "./leader-components.js";
import { RaftNode, type Encryptor, type RaftInit, type RaftNodeStatus } from "./raft/index.js";
import { MemoryStore, SCHEMAS, protoCodec, stampMeta } from "./store/index.js";

export interface ManagerOptions {
  /** This manager's Raft member id. */
  raftId: number;
  clusterId: string;
  /** The manager's state directory; Raft keeps its log and snapshots under `raft/`. */
  dataDir: string;
  clientCredentials: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  encryptor?: Encryptor;
  tickMs?: number;
  electionTick?: number;
  snapshotInterval?: number;
  requestTimeoutMs?: number;
  /** Leader-only control loops, started in order on the leader; built from the store and Raft once they are open. */
  components?: (store: MemoryStore, raft: RaftNode) => LeaderComponent[];
  componentEvents?: ComponentEvents;
}

export class Manager {
  private readonly components: LeaderComponents;

  private constructor(
    readonly raft: RaftNode,
    readonly store: MemoryStore,
    opts: ManagerOptions,
  ) {
    const tickMs = opts.tickMs ?? 100;
    const electionTick = opts.electionTick ?? 10;
    const components = opts.components?.(store, raft) ?? [];
    this.components = new LeaderComponents(raft, components, 2 * tickMs * electionTick, opts.componentEvents ?? {});
  }

  /**
   * Opens the manager's state: the store is rebuilt from the Raft snapshot plus the log. With an empty
   * data directory, `init` founds a new cluster or waits to be added to an existing one.
   */
  static async open(opts: ManagerOptions, init?: RaftInit): Promise<Manager> {
    const store = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta });
    const raft = await RaftNode.open(
      {
        id: opts.raftId,
        clusterId: opts.clusterId,
        dataDir: path.join(opts.dataDir, "raft"),
        stateMachine: store,
        clientCredentials: opts.clientCredentials,
        ...(opts.channelOptions ? { channelOptions: opts.channelOptions } : {}),
        ...(opts.encryptor ? { encryptor: opts.encryptor } : {}),
        ...(opts.tickMs ? { tickMs: opts.tickMs } : {}),
        ...(opts.electionTick ? { electionTick: opts.electionTick } : {}),
        ...(opts.snapshotInterval ? { snapshotInterval: opts.snapshotInterval } : {}),
        ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      },
      init,
    );
    store.setProposer(raft);
    return new Manager(raft, store, opts);
  }

  /** Starts Raft's timers; leader components follow leadership from here on. */
  start(): void {
    this.raft.start();
  }

  isLeader(): boolean {
    return this.raft.isLeader();
  }

  status(): RaftNodeStatus & { components: string[]; storeVersion: number } {
    return { ...this.raft.status(), components: this.components.runningNames(), storeVersion: this.store.version };
  }

  async stop(): Promise<void> {
    await this.components.close();
    await this.raft.stop();
  }
}
