// The manager side of a host: the Raft member and store (Manager), the services managers serve on
// the cluster port behind mutual TLS and per-RPC authorization (Raft, Control, CA, RaftMembership,
// Dispatcher, LogBroker, Logs), and the leader-only loops. Started while the node is an unlocked manager.
import { randomInt } from "node:crypto";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { CAService as CADefinition } from "../proto/gen/ca.js";
import { ControlService as ControlDefinition } from "../proto/gen/control.js";
import { DispatcherService as DispatcherDefinition, type ManagerPeer } from "../proto/gen/dispatcher.js";
import { LogBrokerService as LogBrokerDefinition, LogsService as LogsDefinition } from "../proto/gen/logs.js";
import { RaftMembershipService as RaftMembershipDefinition } from "../proto/gen/membership.js";
import type { Cluster, Node } from "../proto/gen/objects.js";
import {
  CAService,
  caServiceImplementation,
  createAuthorizationInterceptor,
  peerIdentity,
  type MethodPolicy,
  type NodeTls,
} from "../manager/ca/index.js";
import { Dispatcher, dispatcherServiceImplementation } from "../manager/dispatcher/index.js";
import { LogBroker, logBrokerServiceImplementation, logsServiceImplementation } from "../manager/logbroker/index.js";
import { ControlService, LeaderClients, controlServiceImplementation, newObjectId } from "../manager/controlapi/index.js";
import { Allocator } from "../manager/allocator/index.js";
import { Manager } from "../manager/manager.js";
import { createOrchestrators } from "../manager/orchestrator/index.js";
import { SchedulerRunner } from "../manager/scheduler/index.js";
import { RaftMembership, RoleManager, nodesByRaftId, raftManagerMembership, raftMembershipImplementation } from "../manager/membership/index.js";
import { AesGcmEncryptor, type RaftInit, type RaftNode } from "../manager/raft/index.js";
import type { MemoryStore } from "../manager/store/index.js";
import { UNLOCK_KEY_SUBSYSTEM } from "../manager/ca/index.js";

export interface ManagerRuntimeOptions {
  dataDir: string;
  nodeId: string;
  clusterId: string;
  raftId: number;
  listenAddr: string;
  tls: NodeTls;
  dek: Uint8Array;
  logger: Logger;
  tickMs?: number;
  electionTick?: number;
  /** Called when the cluster's unlock key changes (bytes; null when autolock is off). */
  onUnlockKey(key: Uint8Array | null): void;
  /** Called when this manager is removed from Raft (demoted or left). */
  onRemoved(): void;
}

/** Which roles may call each method on the cluster port. */
export function clusterPortPolicy(methodPath: string): MethodPolicy | undefined {
  if (methodPath === "/swarm.v1.CA/GetRootCACertificate" || methodPath === "/swarm.v1.CA/IssueNodeCertificate") return "public";
  if (methodPath.startsWith("/swarm.v1.Dispatcher/")) return ["swarm-worker", "swarm-manager"];
  if (methodPath.startsWith("/swarm.v1.LogBroker/")) return ["swarm-worker", "swarm-manager"];
  if (methodPath.startsWith("/swarm.v1.Logs/")) return ["swarm-manager"];
  if (
    methodPath.startsWith("/swarm.raft.v1.Raft/") ||
    methodPath.startsWith("/swarm.v1.Control/") ||
    methodPath.startsWith("/swarm.v1.RaftMembership/")
  ) {
    return ["swarm-manager"];
  }
  return undefined;
}

/** The managers agents may connect to, and which one leads. */
function managerPeers(store: MemoryStore, raft: RaftNode): ManagerPeer[] {
  const st = raft.status();
  const byRaft = nodesByRaftId(store);
  return st.members.map((m) => ({ nodeId: byRaft.get(m.id) ?? "", addr: m.addr, leader: m.id === st.lead }));
}

/** A fresh Raft member id: 48 random bits, never 0. */
export function newRaftId(): number {
  return randomInt(1, 2 ** 48);
}

export class ManagerRuntime {
  private server: grpc.Server | null = null;
  private readonly leaderClients: LeaderClients;
  readonly control: ControlService;
  /** The Control handlers for the local socket (they forward to the leader like the cluster port's). */
  readonly controlHandlers: grpc.UntypedServiceImplementation;
  /** The Logs handlers for the local socket and the cluster port (a follower forwards to the leader). */
  readonly logsHandlers: grpc.UntypedServiceImplementation;
  private stopWatch: (() => void) | null = null;
  private stopped = false;

  private constructor(
    readonly manager: Manager,
    private readonly opts: ManagerRuntimeOptions,
    private readonly dispatcher: Dispatcher,
    private readonly logBroker: LogBroker,
  ) {
    const adapterOpts = {
      isLeader: () => manager.isLeader(),
      leaderAddr: () => manager.raft.leader().addr,
      clientCredentials: opts.tls.clientCredentials(),
      channelOptions: opts.tls.channelOptions(),
    };
    this.leaderClients = new LeaderClients(adapterOpts);
    this.control = new ControlService({ store: manager.store, membership: raftManagerMembership(manager.raft) });
    this.controlHandlers = controlServiceImplementation(this.control, adapterOpts, this.leaderClients) as unknown as grpc.UntypedServiceImplementation;
    this.logsHandlers = logsServiceImplementation(logBroker, {
      ...adapterOpts,
      leaderClient: (addr) => this.leaderClients.get(addr),
    }) as unknown as grpc.UntypedServiceImplementation;
  }

  /** Opens Raft and the store, serves the cluster port and starts Raft. `init` founds or joins a cluster on a fresh data dir. */
  static async start(opts: ManagerRuntimeOptions, init?: RaftInit): Promise<ManagerRuntime> {
    let dispatcher: Dispatcher | null = null;
    let logBroker: LogBroker | null = null;
    const manager = await Manager.open(
      {
        raftId: opts.raftId,
        clusterId: opts.clusterId,
        dataDir: opts.dataDir,
        clientCredentials: opts.tls.clientCredentials(),
        channelOptions: opts.tls.channelOptions(),
        encryptor: new AesGcmEncryptor(opts.dek),
        ...(opts.tickMs ? { tickMs: opts.tickMs } : {}),
        ...(opts.electionTick ? { electionTick: opts.electionTick } : {}),
        components: (store, raft) => {
          dispatcher = new Dispatcher({
            store,
            nodeId: opts.nodeId,
            managers: () => managerPeers(store, raft),
            onError: (e) => opts.logger.warn({ err: e.message }, "dispatcher"),
          });
          logBroker = new LogBroker({ store });
          return [
            dispatcher,
            logBroker,
            new RoleManager({ store, raft, onError: (id, e) => opts.logger.warn({ node: id, err: e.message }, "role change not done yet") }),
            // Services to running tasks: orchestrators create them, the allocator gates, the scheduler places.
            new Allocator(store, { onError: (e) => opts.logger.warn({ err: e.message }, "allocator") }),
            ...createOrchestrators(store, { onError: (name, e) => opts.logger.warn({ component: name, err: e.message }, "orchestrator") }),
            new SchedulerRunner(store),
          ];
        },
        componentEvents: {
          onStarted: (name) => opts.logger.info({ component: name }, "leader component started"),
          onStopped: (name) => opts.logger.info({ component: name }, "leader component stopped"),
          onError: (name, e) => opts.logger.error({ component: name, err: e.message }, "leader component failed"),
        },
      },
      init,
    );
    const rt = new ManagerRuntime(manager, opts, dispatcher!, logBroker!);
    try {
      await rt.serve();
    } catch (e) {
      await manager.stop();
      throw e;
    }
    manager.raft.on("removed", () => opts.onRemoved());
    manager.raft.on("membership", () => rt.dispatcher.managersChanged());
    manager.raft.on("leader", () => rt.dispatcher.managersChanged());
    manager.raft.on("fatal", (e: Error) => opts.logger.fatal({ err: e.message }, "raft stopped"));
    manager.raft.on("role", (role: string) => opts.logger.info({ role }, "raft role"));
    rt.followUnlockKey();
    manager.start();
    return rt;
  }

  private async serve(): Promise<void> {
    const { manager, opts } = this;
    const server = new grpc.Server({
      interceptors: [
        createAuthorizationInterceptor({
          policy: clusterPortPolicy,
          clusterId: () => opts.clusterId,
          isRemoved: (nodeId) => this.isRemoved(nodeId),
        }),
      ],
      "grpc.max_receive_message_length": 8 * 1024 * 1024,
    });
    manager.raft.transport.addTo(server);
    const leader = { isLeader: () => manager.isLeader(), leaderAddr: () => manager.raft.leader().addr };
    server.addService(ControlDefinition, this.controlHandlers);
    server.addService(CADefinition, caServiceImplementation(new CAService({ store: manager.store, newId: newObjectId }), leader));
    server.addService(
      DispatcherDefinition,
      dispatcherServiceImplementation(this.dispatcher, { identify: (call) => peerIdentity(call), ...leader }),
    );
    server.addService(LogBrokerDefinition, logBrokerServiceImplementation(this.logBroker, { identify: (call) => peerIdentity(call), ...leader }));
    server.addService(LogsDefinition, this.logsHandlers);
    server.addService(
      RaftMembershipDefinition,
      raftMembershipImplementation(new RaftMembership({ raft: manager.raft, store: manager.store, newRaftId }), leader),
    );
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(opts.listenAddr, opts.tls.serverCredentials(), (err) => (err ? reject(new Error(`cannot listen on ${opts.listenAddr}: ${err.message}`)) : resolve())),
    );
    this.server = server;
  }

  private isRemoved(nodeId: string): boolean {
    return this.manager.store.view((r) => {
      const c = r.list("cluster")[0] as Cluster | undefined;
      return Boolean(c?.blacklistedCertificates[nodeId]);
    });
  }

  /** Tells the daemon the unlock key now and whenever the cluster object changes it. */
  private followUnlockKey(): void {
    const w = this.manager.store.watch({ kinds: ["cluster"] });
    this.stopWatch = () => w.close();
    let last: string | null = null;
    const report = (): void => {
      const c = this.manager.store.view((r) => r.list("cluster")[0] as Cluster | undefined);
      if (!c) return;
      const key = c.unlockKeys.find((k) => k.subsystem === UNLOCK_KEY_SUBSYSTEM)?.key ?? null;
      const hex = key ? Buffer.from(key).toString("hex") : "";
      if (hex === last) return;
      last = hex;
      this.opts.onUnlockKey(key ? Buffer.from(key) : null);
    };
    report();
    void (async () => {
      try {
        for await (const e of w) if (e.type === "commit") report();
      } catch {
        // closed on stop
      }
    })();
  }

  isLeader(): boolean {
    return this.manager.isLeader();
  }

  /** Resolves once some member leads (this one or another), or rejects after `timeoutMs`. */
  async waitForLeader(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.manager.raft.leader().id) {
      if (Date.now() > until) throw new Error(`no leader was elected within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The nodes as the leader sees them (its manager statuses say who is reachable); this manager's own view when the leader cannot be asked. */
  async nodesFromLeader(): Promise<Node[]> {
    const local = async (): Promise<Node[]> => (await this.control.listNodes({ filters: undefined })).nodes;
    const addr = this.manager.raft.leader().addr;
    if (this.isLeader() || !addr) return local();
    const client = this.leaderClients.get(addr);
    return new Promise<Node[]>((resolve) =>
      client.listNodes({ filters: undefined }, new grpc.Metadata(), { deadline: Date.now() + 2_000 }, (err, res) =>
        err ? resolve(local()) : resolve(res.nodes),
      ),
    );
  }

  nodeCount(): { managers: number; nodes: number } {
    return this.manager.store.view((r) => {
      const nodes = r.list("node") as Node[];
      return { managers: nodes.filter((n) => n.role === 1).length, nodes: nodes.length };
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopWatch?.();
    this.leaderClients.close();
    this.server?.forceShutdown();
    await this.manager.stop();
  }

  /** Where the Raft log lives (removed when the node stops being a manager). */
  static raftDir(dataDir: string): string {
    return path.join(dataDir, "raft");
  }
}
