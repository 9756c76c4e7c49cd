// swarmd's state machine for one host: not in a cluster → (init | join) → active, and back with
// leave. While active it always runs the agent side and, while the node is an unlocked manager,
// the manager side. It keeps its identity, role and certificates in the data directory and
// resumes from them after a restart (a manager with autolock stays locked until `swarm unlock`).
// Role changes arrive through the agent's session: the node renews its certificate for the new
// role, then starts or stops its manager side.
import { rmSync, mkdirSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { CAClient, type GetRootCACertificateResponse, type IssueNodeCertificateResponse } from "../proto/gen/ca.js";
import type { InfoResponse, InitRequest, InitResponse, JoinRequest, JoinResponse } from "../proto/gen/daemon.js";
import { LocalNodeState } from "../proto/gen/daemon.js";
import { RaftMembershipClient, type RaftMembershipJoinResponse } from "../proto/gen/membership.js";
import { Cluster, Node } from "../proto/gen/objects.js";
import { NodeAvailability, NodeMembership, NodeRole, NodeState as ObservedNodeState, Reachability, type NodeDescription } from "../proto/gen/types.js";
import {
  NodeTls,
  UNLOCK_KEY_SUBSYSTEM,
  bootstrapClientCredentials,
  managerChannelOptions,
  createKeyAndCsr,
  createRootCA,
  generateJoinToken,
  generateUnlockKey,
  parseJoinToken,
  parseNodeCertificate,
  parseUnlockKey,
  renewalDelayMs,
  rootDigest,
  signNodeCertificate,
  DEFAULT_NODE_CERT_EXPIRY_MS,
} from "../manager/ca/index.js";
import type { Executor, LogReader } from "../agent/executor/executor.js";
import { DEFAULT_ENGINE_SOCKET, DockerExecutor } from "../agent/executor/docker/index.js";
import { SimExecutor } from "../agent/executor/sim/index.js";
import { AgentSession, describeHost } from "../agent/session/index.js";
import { Worker } from "../agent/worker/index.js";
import { LogPublisher } from "../agent/logs/index.js";
import { newObjectId } from "../manager/controlapi/index.js";
import type { RaftInit } from "../manager/raft/index.js";
import { resolveAdvertiseAddr, withDefaultPort } from "./addresses.js";
import { DaemonError, invalidArgument, precondition, unavailable } from "./errors.js";
import { KeyStore, type NodeKeys } from "./key-store.js";
import { callLeader, unary } from "./leader-call.js";
import { ManagerRuntime, newRaftId } from "./manager-runtime.js";
import { NodeStateFile, type NodeState, type RoleName } from "./node-state.js";

export const DEFAULT_CLUSTER_PORT = 2377;

export interface DaemonOptions {
  dataDir: string;
  /** Default host:port of the cluster port (`--listen-addr`). */
  listenAddr: string;
  /** Default advertise address (`--advertise-addr`). */
  advertiseAddr?: string;
  logger: Logger;
  /** The node's hostname as the cluster shows it (default: the host's). */
  hostname?: string;
  /** What runs tasks: the Docker engine at `engineSocket` (default), or the simulator (scale tests only). */
  executor?: "docker" | "sim";
  engineSocket?: string;
  /** Raft tick (ms) and election ticks; tests shorten them. */
  tickMs?: number;
  electionTick?: number;
  version: string;
}

const ROLE_OF: Record<string, RoleName> = { "swarm-manager": "manager", "swarm-worker": "worker" };

function roleName(role: NodeRole): RoleName {
  return role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker";
}

const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "swarm leave" to leave this swarm and join another one.';
const NOT_IN_SWARM = 'This node is not part of a swarm. Use "swarm init" or "swarm join" first.';

export class Daemon {
  private phase: LocalNodeState = LocalNodeState.LOCAL_NODE_STATE_INACTIVE;
  private phaseError = "";
  private state: NodeState | null = null;
  private tls: NodeTls | null = null;
  private kek: Buffer | null = null;
  private runtime: ManagerRuntime | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private agent: AgentSession | null = null;
  private worker: Worker | null = null;
  private executor: (Executor & LogReader) | null = null;
  private logPublisher: LogPublisher | null = null;
  private renewing: Promise<void> | null = null;
  /** Serializes init/join/leave/unlock and role changes. */
  private busy: Promise<unknown> = Promise.resolve();
  private readonly stateFile: NodeStateFile;
  private readonly keys: KeyStore;
  private readonly log: Logger;
  private stopped = false;
  private readonly hostname: string;

  constructor(private readonly opts: DaemonOptions) {
    this.hostname = opts.hostname ?? hostname();
    this.stateFile = new NodeStateFile(opts.dataDir);
    this.keys = new KeyStore(opts.dataDir);
    this.log = opts.logger;
  }

  /** Resumes from the data directory: nothing, a locked manager, or an active node. */
  async start(): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true, mode: 0o700 });
    this.state = this.stateFile.load();
    if (!this.state) {
      this.log.info("not part of a cluster yet");
      return;
    }
    if (this.state.role === "manager" && this.keys.needsKek()) {
      this.phase = LocalNodeState.LOCAL_NODE_STATE_LOCKED;
      this.log.warn("this manager is locked: run `swarm unlock` with the cluster's unlock key");
      return;
    }
    await this.serialized(() => this.activate(null));
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }

  /** Loads the keys with `kek` and starts the node's sides. */
  private async activate(kek: Buffer | null): Promise<void> {
    const state = this.state!;
    const material = this.keys.loadKeys(kek);
    this.kek = kek;
    this.tls = new NodeTls(material);
    try {
      if (state.role === "manager" && state.raftId) await this.startManager(null);
      await this.startAgent();
      if (state.role === "manager" && !state.raftId) void this.serialized(() => this.joinRaftUntilDone());
      this.phase = LocalNodeState.LOCAL_NODE_STATE_ACTIVE;
      this.phaseError = "";
      this.scheduleRenewal(material.certPem);
      this.log.info({ node: state.nodeId, role: state.role }, "node active");
    } catch (e) {
      this.phase = LocalNodeState.LOCAL_NODE_STATE_ERROR;
      this.phaseError = (e as Error).message;
      this.log.error({ err: this.phaseError }, "cannot start the node");
      throw e;
    }
  }

  private async startManager(init: RaftInit | null): Promise<void> {
    const state = this.state!;
    if (!state.raftId) throw new Error("this manager has no Raft id");
    this.runtime = await ManagerRuntime.start(
      {
        dataDir: this.opts.dataDir,
        nodeId: state.nodeId,
        clusterId: state.clusterId,
        raftId: state.raftId,
        listenAddr: state.listenAddr,
        tls: this.tls!,
        dek: this.keys.dek(this.kek),
        logger: this.log,
        ...(this.opts.tickMs ? { tickMs: this.opts.tickMs } : {}),
        ...(this.opts.electionTick ? { electionTick: this.opts.electionTick } : {}),
        onUnlockKey: (key) => this.onUnlockKey(key),
        onRemoved: () => void this.serialized(() => this.onRemovedFromRaft()),
      },
      init ?? undefined,
    );
  }

  // ===== init =====

  async init(req: InitRequest): Promise<InitResponse> {
    return this.serialized(async () => {
      if (req.forceNewCluster) return this.forceNewCluster();
      if (this.phase !== LocalNodeState.LOCAL_NODE_STATE_INACTIVE) throw precondition(ALREADY_IN_SWARM);
      if (req.certExpiryMs !== 0 && req.certExpiryMs < 3600_000) {
        throw invalidArgument(`invalid --cert-expiry "${req.certExpiryMs}ms": must be at least 1h`);
      }
      const listenAddr = withDefaultPort(req.listenAddr || this.opts.listenAddr, DEFAULT_CLUSTER_PORT);
      const advertiseAddr = resolveAdvertiseAddr(req.advertiseAddr || this.opts.advertiseAddr, listenAddr);
      const clusterId = newObjectId();
      const nodeId = newObjectId();
      const root = await createRootCA();
      const { keyPem, csrPem } = await createKeyAndCsr();
      const certPem = await signNodeCertificate({
        rootCertPem: root.certPem,
        rootKeyPem: root.keyPem,
        csrPem,
        nodeId,
        role: "swarm-manager",
        clusterId,
        validityMs: req.certExpiryMs || DEFAULT_NODE_CERT_EXPIRY_MS,
      });
      const unlockKey = req.autolock ? generateUnlockKey() : "";
      const kek = unlockKey ? parseUnlockKey(unlockKey) : null;
      const state: NodeState = { nodeId, clusterId, role: "manager", advertiseAddr, listenAddr, managers: [advertiseAddr], raftId: newRaftId() };
      const tokens = { worker: generateJoinToken(root.certPem), manager: generateJoinToken(root.certPem) };
      try {
        this.keys.saveKeys({ rootCertPem: root.certPem, certPem, keyPem }, kek);
        this.stateFile.save(state);
        this.state = state;
        this.kek = kek;
        this.tls = new NodeTls({ rootCertPem: root.certPem, certPem, keyPem });
        await this.startManager({ bootstrap: { addr: advertiseAddr } });
        await this.runtime!.waitForLeader(10_000);
        await this.runtime!.manager.store.update((tx) => {
          tx.create(
            "cluster",
            Cluster.fromPartial({
              id: clusterId,
              spec: {
                annotations: { name: "default", labels: {} },
                orchestration: req.taskHistoryLimit !== undefined ? { taskHistoryRetentionLimit: req.taskHistoryLimit } : {},
                dispatcher: { heartbeatPeriodMs: req.dispatcherHeartbeatMs },
                caConfig: { nodeCertExpiryMs: req.certExpiryMs },
                encryptionConfig: { autoLockManagers: req.autolock },
              },
              rootCa: {
                caKey: Buffer.from(root.keyPem),
                caCert: Buffer.from(root.certPem),
                caCertHash: rootDigest(root.certPem),
                joinTokens: tokens,
              },
              unlockKeys: kek ? [{ subsystem: UNLOCK_KEY_SUBSYSTEM, algorithm: 1, key: kek, lamportTime: 1 }] : [],
            }),
          );
          tx.create(
            "node",
            Node.fromPartial({
              id: nodeId,
              role: NodeRole.NODE_ROLE_MANAGER,
              spec: {
                desiredRole: NodeRole.NODE_ROLE_MANAGER,
                membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED,
                availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
              },
              description: { hostname: this.hostname },
              status: { state: ObservedNodeState.NODE_STATE_READY, message: "", addr: hostOf(advertiseAddr) },
              managerStatus: { raftId: state.raftId!, addr: advertiseAddr, leader: true, reachability: Reachability.REACHABILITY_REACHABLE },
              certificate: { role: NodeRole.NODE_ROLE_MANAGER, csr: Buffer.from(csrPem), certificate: Buffer.from(certPem), cn: nodeId, status: { state: 3, err: "" } },
            }),
          );
        });
      } catch (e) {
        await this.reset();
        throw e;
      }
      await this.startAgent();
      this.phase = LocalNodeState.LOCAL_NODE_STATE_ACTIVE;
      this.scheduleRenewal(certPem);
      this.log.info({ cluster: clusterId, node: nodeId, addr: advertiseAddr }, "cluster initialized");
      return { nodeId, clusterId, workerToken: tokens.worker, unlockKey, advertiseAddr };
    });
  }

  /** Rebuilds a one-manager cluster from this manager's state (quorum lost for good). */
  private async forceNewCluster(): Promise<InitResponse> {
    const state = this.state;
    if (!state || state.role !== "manager") throw precondition("--force-new-cluster needs a manager's state to rebuild from: this node is not a manager of a cluster");
    if (this.phase === LocalNodeState.LOCAL_NODE_STATE_LOCKED) throw precondition("this manager is locked: run `swarm unlock` first");
    const rt = this.runtime;
    this.runtime = null;
    await rt?.stop();
    state.managers = [state.advertiseAddr];
    this.stateFile.save(state);
    await this.startManager({ forceNewCluster: true });
    await this.runtime!.waitForLeader(30_000);
    this.phase = LocalNodeState.LOCAL_NODE_STATE_ACTIVE;
    this.phaseError = "";
    this.log.warn({ node: state.nodeId }, "rebuilt a one-manager cluster from this manager's state (--force-new-cluster)");
    const cluster = this.runtime!.manager.store.view((r) => r.list("cluster")[0] as Cluster | undefined);
    return { nodeId: state.nodeId, clusterId: state.clusterId, workerToken: cluster?.rootCa?.joinTokens?.worker ?? "", unlockKey: "", advertiseAddr: state.advertiseAddr };
  }

  // ===== join =====

  async join(req: JoinRequest): Promise<JoinResponse> {
    return this.serialized(async () => {
      if (this.phase !== LocalNodeState.LOCAL_NODE_STATE_INACTIVE) throw precondition(ALREADY_IN_SWARM);
      let digest: string;
      try {
        digest = parseJoinToken(req.token).digest;
      } catch (e) {
        throw invalidArgument((e as Error).message);
      }
      if (!req.remoteAddr) throw invalidArgument("a manager address (HOST:PORT) to join is required");
      const remote = withDefaultPort(req.remoteAddr, DEFAULT_CLUSTER_PORT);
      const listenAddr = withDefaultPort(req.listenAddr || this.opts.listenAddr, DEFAULT_CLUSTER_PORT);
      const advertiseAddr = resolveAdvertiseAddr(req.advertiseAddr || this.opts.advertiseAddr, listenAddr);
      const rootCertPem = await fetchRootCA(remote);
      if (rootDigest(rootCertPem) !== digest) {
        throw new DaemonError(
          grpc.status.PERMISSION_DENIED,
          `the root CA certificate served at ${remote} does not match the join token: refusing to join (wrong cluster or a man-in-the-middle)`,
        );
      }
      const { keyPem, csrPem } = await createKeyAndCsr();
      const res = await callLeader([remote], (addr, ms) => {
        const client = new CAClient(addr, bootstrapClientCredentials(rootCertPem), managerChannelOptions());
        return unary<IssueNodeCertificateResponse>((md, o, cb) => client.issueNodeCertificate({
          csr: Buffer.from(csrPem),
          token: req.token,
          hostname: this.hostname,
          advertiseAddr,
          availability: req.availability === NodeAvailability.UNRECOGNIZED ? NodeAvailability.NODE_AVAILABILITY_ACTIVE : req.availability,
        }, md, o, cb), ms).finally(() => client.close());
      }).catch((e: unknown) => {
        throw asDaemonError(e, `cannot join through ${remote}`);
      });
      const certPem = Buffer.from(res.certificate).toString();
      const info = parseNodeCertificate(certPem);
      const role = ROLE_OF[info.role] ?? "worker";
      const state: NodeState = { nodeId: res.nodeId, clusterId: res.clusterId, role, advertiseAddr, listenAddr, managers: [remote] };
      try {
        this.keys.saveKeys({ rootCertPem, certPem, keyPem }, null);
        this.state = state;
        this.stateFile.save(state);
        this.kek = null;
        this.tls = new NodeTls({ rootCertPem, certPem, keyPem });
        if (role === "manager") await this.joinRaft();
      } catch (e) {
        await this.reset();
        throw asDaemonError(e, "cannot join the cluster's managers");
      }
      await this.startAgent();
      this.phase = LocalNodeState.LOCAL_NODE_STATE_ACTIVE;
      this.scheduleRenewal(certPem);
      this.log.info({ cluster: state.clusterId, node: state.nodeId, role }, "joined the cluster");
      return { nodeId: state.nodeId, role: role === "manager" ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER };
    });
  }

  /** Asks the leader to add this manager to Raft, then starts the manager side as a new member. */
  private async joinRaft(): Promise<void> {
    const state = this.state!;
    const res: RaftMembershipJoinResponse = await callLeader(state.managers, (addr, ms) => {
      const client = new RaftMembershipClient(addr, this.tls!.clientCredentials(), this.tls!.channelOptions());
      return unary<RaftMembershipJoinResponse>((md, o, cb) => client.join({ addr: state.advertiseAddr }, md, o, cb), ms).finally(() => client.close());
    }, { timeoutMs: 30_000 });
    state.raftId = res.raftId;
    state.managers = [...new Set([...res.members.map((m) => m.addr), ...state.managers])];
    this.stateFile.save(state);
    await this.startManager({ join: { members: res.members.map((m) => ({ id: m.raftId, addr: m.addr })) } });
  }

  // ===== leave =====

  async leave(force: boolean): Promise<void> {
    return this.serialized(async () => {
      if (this.phase === LocalNodeState.LOCAL_NODE_STATE_INACTIVE) throw precondition(NOT_IN_SWARM);
      const rt = this.runtime;
      if (rt && !force) {
        const st = rt.manager.raft.status();
        const voters = st.confState.voters;
        if (voters.length <= 1) {
          throw precondition(
            "You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.",
          );
        }
        const members = rt.control.listNodes({ filters: undefined });
        const reachable = (await members).nodes.filter(
          (n) => n.managerStatus?.reachability === Reachability.REACHABILITY_REACHABLE && n.id !== this.state!.nodeId,
        ).length;
        const remaining = voters.length - 1;
        const quorum = Math.floor(remaining / 2) + 1;
        if (reachable < quorum) {
          throw precondition(
            `leaving would leave ${reachable} of ${remaining} managers reachable: quorum needs ${quorum}. Use \`--force\` to leave anyway (the cluster becomes unavailable until it is rebuilt with --force-new-cluster)`,
          );
        }
      }
      if (rt && rt.manager.raft.status().confState.voters.length > 1) {
        await callLeader(this.state!.managers, (addr, ms) => {
          const client = new RaftMembershipClient(addr, this.tls!.clientCredentials(), this.tls!.channelOptions());
          return unary((md, o, cb) => client.leave({}, md, o, cb), ms).finally(() => client.close());
        }, { timeoutMs: force ? 5_000 : 20_000 }).catch((e: unknown) => {
          if (!force) throw asDaemonError(e, "cannot leave Raft");
          this.log.warn({ err: (e as Error).message }, "leaving without removing this manager from Raft (--force)");
        });
      }
      await this.reset();
      this.log.info("left the cluster");
    });
  }

  /** Stops everything and forgets the cluster: the data directory is emptied. */
  private async reset(): Promise<void> {
    await this.stopSides();
    this.stateFile.remove();
    this.keys.removeAll();
    rmSync(ManagerRuntime.raftDir(this.opts.dataDir), { recursive: true, force: true });
    rmSync(path.join(this.opts.dataDir, "agent"), { recursive: true, force: true });
    this.state = null;
    this.tls = null;
    this.kek = null;
    this.phase = LocalNodeState.LOCAL_NODE_STATE_INACTIVE;
    this.phaseError = "";
  }

  /**
   * The agent side: one session with a manager (following the managers and this node's object),
   * and the worker that runs the assigned tasks through the executor, its state in `agent/db`.
   */
  private async startAgent(): Promise<void> {
    const state = this.state!;
    const executor = (this.executor ??=
      this.opts.executor === "sim"
        ? new SimExecutor()
        : new DockerExecutor({ nodeId: state.nodeId, socketPath: this.opts.engineSocket ?? DEFAULT_ENGINE_SOCKET, logger: this.log }));
    const agent = new AgentSession({
      managers: state.managers,
      credentials: () => ({ credentials: this.tls!.clientCredentials(), channelOptions: this.tls!.channelOptions() }),
      describe: () => this.describe(executor),
    });
    const worker = await Worker.open({
      dbPath: path.join(this.opts.dataDir, "agent", "db"),
      executor,
      report: (updates) => agent.reportStatus(updates),
    });
    worker.on("warning", (e) => this.log.warn({ err: e.message }, "worker"));
    agent.on("assignments", (ev) =>
      void worker
        .assign({
          type: ev.type,
          tasks: ev.tasks,
          removedTaskIds: ev.removedTasks,
          secrets: ev.secrets,
          removedSecretIds: ev.removedSecrets,
          configs: ev.configs,
          removedConfigIds: ev.removedConfigs,
        })
        .catch((e: Error) => this.log.error({ err: e.message }, "cannot apply assignments")),
    );
    agent.on("reconnected", () => void worker.reportAll().catch(() => undefined));
    this.worker = worker;
    agent.on("node", (n) => this.onNodeObject(n));
    agent.on("managers", (peers) => {
      const addrs = peers.map((p) => p.addr).filter((a) => a);
      if (addrs.length === 0 || !this.state) return;
      this.state.managers = addrs;
      this.stateFile.save(this.state);
    });
    agent.on("session", (id, manager) => this.log.info({ session: id, manager }, "agent session established"));
    agent.on("disconnected", (reason) => this.log.info({ reason }, "agent session lost"));
    this.logPublisher = new LogPublisher({
      nodeId: state.nodeId,
      reader: executor,
      session: agent,
      worker,
      credentials: () => ({ credentials: this.tls!.clientCredentials(), channelOptions: this.tls!.channelOptions() }),
      onError: (e) => this.log.debug({ err: e.message }, "log publisher"),
    });
    this.logPublisher.start();
    agent.start();
    this.agent = agent;
  }

  /** What the node registers with: the host's facts, the engine's, and the cluster hostname. */
  private async describe(executor: Executor): Promise<NodeDescription> {
    const host = describeHost();
    const engine = await executor.describe().catch((e: Error) => {
      this.log.warn({ err: e.message }, "cannot describe the container engine");
      return null;
    });
    return {
      ...host,
      hostname: this.hostname,
      ...(engine ? { engine: engine.engine, resources: engine.resources ?? host.resources, platform: engine.platform ?? host.platform } : {}),
    };
  }

  /** Stops the agent side (session and worker); the containers keep running. */
  private async stopAgent(): Promise<void> {
    const agent = this.agent;
    const worker = this.worker;
    this.agent = null;
    this.worker = null;
    this.logPublisher?.stop();
    this.logPublisher = null;
    await agent?.stop();
    await worker?.close();
  }

  private async stopSides(): Promise<void> {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
    await this.stopAgent();
    const rt = this.runtime;
    this.runtime = null;
    await rt?.stop();
  }

  // ===== unlock and keys =====

  async unlock(unlockKey: string): Promise<void> {
    return this.serialized(async () => {
      if (this.phase !== LocalNodeState.LOCAL_NODE_STATE_LOCKED) {
        throw precondition(this.phase === LocalNodeState.LOCAL_NODE_STATE_INACTIVE ? NOT_IN_SWARM : "this node is not locked");
      }
      let kek: Buffer;
      try {
        kek = parseUnlockKey(unlockKey.trim());
      } catch (e) {
        throw invalidArgument((e as Error).message);
      }
      try {
        this.keys.loadKeys(kek);
      } catch {
        throw invalidArgument("invalid key: this is not the unlock key of this manager (was it rotated? use the current key from `swarm unlock-key` on an unlocked manager)");
      }
      await this.activate(kek);
    });
  }

  /** The cluster's unlock key changed (autolock on, off or rotated): re-wrap this manager's keys with it. */
  private onUnlockKey(key: Uint8Array | null): void {
    const next = key ? Buffer.from(key) : null;
    if ((next === null && this.kek === null) || (next && this.kek && next.equals(this.kek))) return;
    try {
      this.keys.rewrap(this.kek, next);
      this.kek = next;
      this.log.info({ autolock: next !== null }, "manager keys re-wrapped for the cluster's unlock key");
    } catch (e) {
      this.log.error({ err: (e as Error).message }, "cannot re-wrap the manager's keys");
    }
  }

  // ===== certificates and roles =====

  private scheduleRenewal(certPem: string): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    const info = parseNodeCertificate(certPem);
    const delay = renewalDelayMs(info.notBefore, info.notAfter, new Date(), Math.random);
    this.renewTimer = setTimeout(() => void this.renewCertificate("expiry").catch(() => undefined), Math.min(delay, 2 ** 31 - 1));
    this.renewTimer.unref();
  }

  /** Gets a new certificate from the CA (for the role the store gives this node) and follows a role change. */
  renewCertificate(why: string): Promise<void> {
    if (this.renewing) return this.renewing;
    this.renewing = this.serialized(async () => {
      const state = this.state;
      if (!state || !this.tls || this.phase !== LocalNodeState.LOCAL_NODE_STATE_ACTIVE) return;
      const { keyPem, csrPem } = await createKeyAndCsr();
      const res = await callLeader(state.managers, (addr, ms) => {
        const client = new CAClient(addr, this.tls!.clientCredentials(), this.tls!.channelOptions());
        return unary<IssueNodeCertificateResponse>((md, o, cb) => client.issueNodeCertificate({ csr: Buffer.from(csrPem), token: "", hostname: this.hostname, advertiseAddr: state.advertiseAddr, availability: 0 }, md, o, cb), ms).finally(() => client.close());
      });
      const certPem = Buffer.from(res.certificate).toString();
      const material: NodeKeys = { rootCertPem: Buffer.from(res.rootCa).toString(), certPem, keyPem };
      this.keys.saveKeys(material, state.role === "manager" ? this.kek : null);
      this.tls.update(material);
      this.scheduleRenewal(certPem);
      const role = ROLE_OF[parseNodeCertificate(certPem).role] ?? "worker";
      this.log.info({ why, role }, "certificate renewed");
      if (role !== state.role) await this.changeRole(role);
    }).finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  /** Follows a role change after the certificate for it arrived. */
  private async changeRole(role: RoleName): Promise<void> {
    const state = this.state!;
    state.role = role;
    if (role === "manager") {
      this.stateFile.save(state);
      await this.joinRaftUntilDone();
      return;
    }
    delete state.raftId;
    this.stateFile.save(state);
    const rt = this.runtime;
    this.runtime = null;
    await rt?.stop();
    rmSync(ManagerRuntime.raftDir(this.opts.dataDir), { recursive: true, force: true });
    this.keys.removeDek();
    if (this.kek) {
      this.keys.rewrap(this.kek, null);
      this.kek = null;
    }
  }

  /** Joins Raft as a manager, retrying while the leader cannot add this node yet (another membership change, an election). */
  private async joinRaftUntilDone(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (!this.state || this.state.role !== "manager" || this.runtime || this.stopped) return;
      try {
        await this.joinRaft();
        return;
      } catch (e) {
        this.log.warn({ err: (e as Error).message, attempt }, "cannot join Raft yet; retrying");
        await new Promise((r) => setTimeout(r, Math.min(500 * attempt, 5_000)));
      }
    }
  }

  private async onRemovedFromRaft(): Promise<void> {
    this.log.warn("this manager was removed from Raft");
    const rt = this.runtime;
    this.runtime = null;
    const others = rt?.manager.raft.status().members.map((m) => m.addr).filter((a) => a && a !== this.state?.advertiseAddr) ?? [];
    await rt?.stop();
    // This node's agent may have been talking to the manager side that just stopped: point it at the others.
    if (this.state && others.length > 0) {
      this.state.managers = others;
      this.stateFile.save(this.state);
      await this.stopAgent();
      await this.startAgent();
    }
  }

  /** The role the store gives this node changed (seen in the agent's session): get a certificate for it. */
  onNodeObject(node: Node): void {
    const state = this.state;
    if (!state || node.id !== state.nodeId) return;
    if (roleName(node.role) !== state.role) void this.renewCertificate("role change").catch((e: Error) => this.log.warn({ err: e.message }, "renewal failed"));
  }

  // ===== info =====

  async info(): Promise<InfoResponse> {
    const state = this.state;
    const rt = this.runtime;
    const res: InfoResponse = {
      state: this.phase,
      error: this.phaseError,
      nodeId: state?.nodeId ?? "",
      nodeAddr: state?.advertiseAddr ?? "",
      clusterId: state?.clusterId ?? "",
      role: state?.role === "manager" ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER,
      remoteManagers: state?.managers ?? [],
      managers: 0,
      nodes: 0,
      raft: undefined,
      autolock: this.kek !== null || this.phase === LocalNodeState.LOCAL_NODE_STATE_LOCKED,
      certExpiresUnixMs: 0,
      swarmdVersion: this.opts.version,
      dataDir: this.opts.dataDir,
    };
    if (this.tls) res.certExpiresUnixMs = this.tls.certificate.notAfter.getTime();
    if (rt) {
      const counts = rt.nodeCount();
      res.managers = counts.managers;
      res.nodes = counts.nodes;
      const st = rt.manager.raft.status();
      const byRaft = new Map<number, string>();
      const reachable = new Set<number>([st.id]);
      for (const n of await rt.nodesFromLeader().catch(() => [] as Node[])) {
        const ms = n.managerStatus;
        if (!ms?.raftId) continue;
        byRaft.set(ms.raftId, n.id);
        if (ms.reachability === Reachability.REACHABILITY_REACHABLE) reachable.add(ms.raftId);
      }
      res.raft = {
        raftId: st.id,
        term: st.term,
        leaderRaftId: st.lead,
        commitIndex: st.commit,
        appliedIndex: st.applied,
        snapshotIndex: st.snapshotIndex,
        members: st.members.map((m) => ({
          raftId: m.id,
          nodeId: byRaft.get(m.id) ?? "",
          addr: m.addr,
          leader: m.id === st.lead,
          reachable: reachable.has(m.id),
          learner: st.confState.learners.includes(m.id),
        })),
      };
    }
    return res;
  }

  /** The manager side, while this node runs one (for the local Control service). */
  managerRuntime(): ManagerRuntime | null {
    return this.runtime;
  }

  /** Why this node cannot serve Control calls now, or null when it can. */
  controlUnavailableReason(): DaemonError | null {
    if (this.runtime) return null;
    switch (this.phase) {
      case LocalNodeState.LOCAL_NODE_STATE_LOCKED:
        return precondition("Swarm is encrypted and needs to be unlocked before it can be used. Please use \"swarm unlock\" to unlock it.");
      case LocalNodeState.LOCAL_NODE_STATE_INACTIVE:
        return precondition('This node is not a swarm manager. Use "swarm init" or "swarm join" to connect this node to swarm and try again.');
      default:
        if (this.state?.role === "manager") return unavailable("this manager is starting or rejoining Raft; retry shortly");
        return precondition(
          "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.",
        );
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.busy;
    await this.stopSides();
    await this.executor?.close();
  }
}

function hostOf(addr: string): string {
  return addr.replace(/^\[?(.*?)\]?:\d+$/, "$1");
}

/** The root CA certificate a manager serves, fetched without trusting it yet (the caller checks its digest). */
async function fetchRootCA(remote: string): Promise<string> {
  const client = new CAClient(remote, bootstrapClientCredentials(null), managerChannelOptions());
  try {
    const res = await unary<GetRootCACertificateResponse>((md, o, cb) => client.getRootCaCertificate({}, md, o, cb), 5_000);
    return Buffer.from(res.certificate).toString();
  } catch (e) {
    throw asDaemonError(e, `cannot reach a manager at ${remote}`);
  } finally {
    client.close();
  }
}

/** A daemon error from any failure, keeping gRPC codes, with `context` in front of transport failures. */
function asDaemonError(e: unknown, context: string): DaemonError {
  if (e instanceof DaemonError) return e;
  const err = e as Partial<grpc.ServiceError>;
  if (typeof err.code === "number") {
    const details = err.details ?? err.message ?? "";
    if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
      return new DaemonError(grpc.status.UNAVAILABLE, `${context}: ${details}`);
    }
    return new DaemonError(err.code, details);
  }
  return new DaemonError(grpc.status.INTERNAL, `${context}: ${(e as Error).message}`);
}
