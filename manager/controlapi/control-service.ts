// The Control API as a plain TypeScript service over the store: no gRPC types, so the gRPC adapter
// (grpc-adapter.ts) and the HTTP adapter share it. It runs on the leader (followers forward whole
// requests). Every spec is validated and every reference resolved inside the store transaction that
// writes it, so a refused call writes nothing; expected failures are StoreErrors whose code maps to
// a gRPC status.
import { X509Certificate, randomBytes } from "node:crypto";
import type {
  CreateConfigRequest,
  CreateConfigResponse,
  CreateNetworkRequest,
  CreateNetworkResponse,
  CreateSecretRequest,
  CreateSecretResponse,
  CreateServiceRequest,
  CreateServiceResponse,
  GetClusterRequest,
  GetClusterResponse,
  GetConfigRequest,
  GetConfigResponse,
  GetNetworkRequest,
  GetNetworkResponse,
  GetNodeRequest,
  GetNodeResponse,
  GetSecretRequest,
  GetSecretResponse,
  GetServiceRequest,
  GetServiceResponse,
  GetTaskRequest,
  GetTaskResponse,
  ListClustersRequest,
  ListClustersResponse,
  ListConfigsRequest,
  ListConfigsResponse,
  ListNetworksRequest,
  ListNetworksResponse,
  ListNodesRequest,
  ListNodesResponse,
  ListSecretsRequest,
  ListSecretsResponse,
  ListServicesRequest,
  ListServicesResponse,
  ListTasksRequest,
  ListTasksResponse,
  RemoveConfigRequest,
  RemoveConfigResponse,
  RemoveNetworkRequest,
  RemoveNetworkResponse,
  RemoveNodeRequest,
  RemoveNodeResponse,
  RemoveSecretRequest,
  RemoveSecretResponse,
  RemoveServiceRequest,
  RemoveServiceResponse,
  RemoveTaskRequest,
  RemoveTaskResponse,
  UpdateClusterRequest,
  GetUnlockKeyRequest,
  GetUnlockKeyResponse,
  KeyRotation,
  UpdateClusterResponse,
  UpdateConfigRequest,
  UpdateConfigResponse,
  UpdateNetworkRequest,
  UpdateNetworkResponse,
  UpdateNodeRequest,
  UpdateNodeResponse,
  UpdateSecretRequest,
  UpdateSecretResponse,
  UpdateServiceRequest,
  UpdateServiceResponse,
  WatchEvent,
  WatchMessage,
  WatchObject,
  WatchRequest,
} from "../../proto/gen/control.js";
import { Cluster, Config, Network, Node, Secret, Service, Task } from "../../proto/gen/objects.js";
import { ClusterSpec, ConfigSpec, NetworkSpec, NodeSpec, SecretSpec, ServiceSpec } from "../../proto/gen/specs.js";
import { StoreActionKind } from "../../proto/gen/store.js";
import {
  EncryptionAlgorithm,
  NodeRole,
  NodeState,
  PublishMode,
  TaskState,
  TaskStatus,
  UpdateState,
  type Annotations,
  type EncryptionKey,
  type ManagerStatus,
  type Version,
} from "../../proto/gen/types.js";
import { taskName } from "../../proto/naming.js";
import { UNLOCK_KEY_SUBSYSTEM, formatUnlockKey, generateJoinToken, generateUnlockKey, parseUnlockKey } from "../ca/index.js";
import {
  KINDS,
  StoreError,
  StoreErrorCode,
  type Kind,
  type MemoryStore,
  type ReadView,
  type StoreEvent,
  type StoreObject,
  type Tx,
  type Watch,
} from "../store/index.js";
import * as v from "./validate/index.js";

export interface ControlServiceOptions {
  store: MemoryStore;
  /** New object ids. Default: 25 lowercase base36 characters from 128 random bits, like docker's. */
  newId?: () => string;
  /** The clock for times the API stamps (update status, job runs, orphaned tasks). Default Date.now. */
  now?: () => number;
  /** Largest encoded object written. Default 1 MiB (v.MAX_OBJECT_BYTES). */
  maxObjectBytes?: number;
  /** Raft facts about managers (reachability, quorum), supplied by the manager; absent in plain store tests. */
  membership?: ManagerMembership;
}

/** What the node API needs to know about the managers' Raft membership. */
export interface ManagerMembership {
  /** The manager status to show for a manager node (leader, reachability), computed when read. */
  managerStatus(node: Node): ManagerStatus | undefined;
  /** Why demoting the manager `node` must be refused now (it would lose quorum), or null. */
  demotionBlocker(node: Node): string | null;
}

/** A docker-like id: 128 random bits as 25 lowercase base36 characters. */
export function newObjectId(): string {
  return BigInt(`0x${randomBytes(16).toString("hex")}`).toString(36).padStart(25, "0");
}

/** Task changes staged in the transaction that removes their service or node; the rest follow in batches. */
const TASK_BYTES_PER_TX = 256 * 1024;
/** Attempts of a removal whose transaction lost a race with a task update. */
const REMOVE_ATTEMPTS = 3;

const as = <T>(o: StoreObject): T => o as unknown as T;
const stored = (o: object): StoreObject => o as unknown as StoreObject;
const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const ACTIONS: Record<Exclude<StoreEvent["type"], "commit">, StoreActionKind> = {
  create: StoreActionKind.STORE_ACTION_KIND_CREATE,
  update: StoreActionKind.STORE_ACTION_KIND_UPDATE,
  remove: StoreActionKind.STORE_ACTION_KIND_REMOVE,
};

const NODE_STATE_NAMES: Record<number, string> = {
  [NodeState.NODE_STATE_UNKNOWN]: "unknown",
  [NodeState.NODE_STATE_DOWN]: "down",
  [NodeState.NODE_STATE_READY]: "ready",
  [NodeState.NODE_STATE_DISCONNECTED]: "disconnected",
};

// ---- what answers show: copies, with secrets and keys removed ----

function redactSecret(s: Secret): Secret {
  if (s.spec) s.spec.data = Buffer.alloc(0);
  return s;
}

function redactCluster(c: Cluster): Cluster {
  if (c.spec?.caConfig) {
    c.spec.caConfig.signingCaKey = Buffer.alloc(0);
    c.spec.caConfig.signingCaCert = Buffer.alloc(0);
  }
  if (c.rootCa) {
    c.rootCa.caKey = Buffer.alloc(0);
    if (c.rootCa.rootRotation) c.rootCa.rootRotation.caKey = Buffer.alloc(0);
  }
  c.networkBootstrapKeys = [];
  c.unlockKeys = [];
  return c;
}

/** A copy of a stored object as the API shows it. */
const PRESENT: { [K in Kind]: (o: StoreObject) => object } = {
  node: (o) => Node.fromPartial(as<Node>(o)),
  service: (o) => Service.fromPartial(as<Service>(o)),
  task: (o) => Task.fromPartial(as<Task>(o)),
  network: (o) => Network.fromPartial(as<Network>(o)),
  secret: (o) => redactSecret(Secret.fromPartial(as<Secret>(o))),
  config: (o) => Config.fromPartial(as<Config>(o)),
  cluster: (o) => redactCluster(Cluster.fromPartial(as<Cluster>(o))),
};

// ---- keys the cluster object holds ----

/** Turns join tokens and the unlock key over as asked, and makes or drops the unlock key with autolock. */
function rotateKeys(c: Cluster, rotation: KeyRotation | undefined): void {
  const root = c.rootCa;
  if (root && (rotation?.workerJoinToken || rotation?.managerJoinToken)) {
    const tokens = root.joinTokens ?? { worker: "", manager: "" };
    const cert = Buffer.from(root.caCert).toString();
    if (rotation.workerJoinToken) tokens.worker = generateJoinToken(cert);
    if (rotation.managerJoinToken) tokens.manager = generateJoinToken(cert);
    root.joinTokens = tokens;
  }
  const locked = c.spec?.encryptionConfig?.autoLockManagers ?? false;
  const others = c.unlockKeys.filter((k) => k.subsystem !== UNLOCK_KEY_SUBSYSTEM);
  const current = c.unlockKeys.find((k) => k.subsystem === UNLOCK_KEY_SUBSYSTEM);
  if (!locked) {
    if (rotation?.managerUnlockKey) throw precondition("cannot rotate the unlock key because autolock is not turned on");
    c.unlockKeys = others;
    return;
  }
  if (current && !rotation?.managerUnlockKey) return;
  const key: EncryptionKey = {
    subsystem: UNLOCK_KEY_SUBSYSTEM,
    algorithm: EncryptionAlgorithm.ENCRYPTION_ALGORITHM_AES_256_GCM,
    key: parseUnlockKey(generateUnlockKey()),
    lamportTime: (current?.lamportTime ?? 0) + 1,
  };
  c.unlockKeys = [...others, key];
}

// ---- names, references and versions ----

/** The name an object is known by: its spec's, a node's hostname, a task's own (else SERVICE.SLOT.TASKID, as SwarmKit's). */
function nameOf(kind: Kind, o: StoreObject): string {
  switch (kind) {
    case "node": {
      const n = as<Node>(o);
      return n.spec?.annotations?.name || n.description?.hostname || "";
    }
    case "task":
      return as<Task>(o).annotations?.name || taskName(as<Task>(o));
    default:
      return as<{ spec?: { annotations?: Annotations } }>(o).spec?.annotations?.name ?? "";
  }
}

function labelsOf(kind: Kind, o: StoreObject): Record<string, string> {
  if (kind === "task") return as<Task>(o).annotations?.labels ?? {};
  return as<{ spec?: { annotations?: Annotations } }>(o).spec?.annotations?.labels ?? {};
}

/** `"web" (id)`, or the bare id of an object without a name, for messages. */
function ident(kind: Kind, o: StoreObject): string {
  const name = nameOf(kind, o);
  return name ? `${v.show(name)} (${o.id})` : o.id;
}

/** `service "web" (id)`, for messages. */
function describe(kind: Kind, o: StoreObject): string {
  return `${kind} ${ident(kind, o)}`;
}

/** `services "a" (id1), "b" (id2) and 3 more`, for messages: at most three named. */
function describeAll(kind: Kind, objs: StoreObject[]): string {
  const sorted = [...objs].sort(byId);
  const shown = sorted.slice(0, 3).map((o) => ident(kind, o));
  const more = sorted.length > 3 ? ` and ${sorted.length - 3} more` : "";
  return `${kind}${sorted.length > 1 ? "s" : ""} ${shown.join(", ")}${more}`;
}

function requireRef(field: string, ref: string): void {
  if (ref === "") throw v.invalid(field, "", "an id, a unique id prefix or a name is required");
}

function requireVersion(field: string, version: Version | undefined): number {
  if (!version) {
    throw v.invalid(field, undefined, "the version read with the object is required, so that a concurrent change is not overwritten");
  }
  return version.index;
}

/** FAILED_PRECONDITION unless the object is still at the version the client read. */
function checkVersion(kind: Kind, current: StoreObject, expected: number): void {
  const actual = current.meta?.version?.index ?? 0;
  if (actual !== expected) {
    throw new StoreError(
      StoreErrorCode.Conflict,
      `update out of sequence: ${describe(kind, current)} is at version ${actual}, but the request was based on version ${expected}; read it again and retry`,
    );
  }
}

function precondition(message: string): StoreError {
  return new StoreError(StoreErrorCode.Conflict, message);
}

// ---- list filters ----

interface CommonFilters {
  idPrefixes: string[];
  names: string[];
  namePrefixes: string[];
  labels: string[];
}

type LabelFilter = { key: string; value: string | undefined };

function parseLabelFilters(labels: string[]): LabelFilter[] {
  return labels.map((l, i) => {
    const eq = l.indexOf("=");
    const key = eq < 0 ? l : l.slice(0, eq);
    if (key === "") throw v.invalid(`filters.labels[${i}]`, l, "must be KEY or KEY=VALUE");
    return { key, value: eq < 0 ? undefined : l.slice(eq + 1) };
  });
}

/** A predicate for the filters every kind has; within a filter any value matches, all filters must. */
function commonFilter(kind: Kind, f: CommonFilters | undefined): (o: StoreObject) => boolean {
  if (!f) return () => true;
  const labels = parseLabelFilters(f.labels);
  return (o) => {
    if (f.idPrefixes.length > 0 && !f.idPrefixes.some((p) => o.id.startsWith(p))) return false;
    const name = nameOf(kind, o);
    if (f.names.length > 0 && !f.names.includes(name)) return false;
    if (f.namePrefixes.length > 0 && !f.namePrefixes.some((p) => name.startsWith(p))) return false;
    if (labels.length > 0) {
      const have = labelsOf(kind, o);
      for (const l of labels) {
        if (!Object.hasOwn(have, l.key)) return false;
        if (l.value !== undefined && have[l.key] !== l.value) return false;
      }
    }
    return true;
  };
}

/** The id a filter entry means: a resolvable reference, else the entry itself (an object already gone). */
function filterId(r: ReadView, kind: Kind, ref: string): string {
  try {
    return r.resolve(kind, ref).id;
  } catch (e) {
    if (e instanceof StoreError && e.code === StoreErrorCode.NotFound) return ref;
    throw e;
  }
}

/** The expiry of a node's certificate, 0 when it has none or it cannot be read (kept until removed by hand). */
function certificateExpiry(n: Node): number {
  const pem = n.certificate?.certificate;
  if (!pem || pem.length === 0) return 0;
  try {
    const t = Date.parse(new X509Certificate(pem).validTo);
    return Number.isFinite(t) ? t : 0;
  } catch {
    return 0;
  }
}

/** The Control API over one store. Methods mirror the Control RPCs. */
export class ControlService {
  private readonly store: MemoryStore;
  private readonly newId: () => string;
  private readonly now: () => number;
  private readonly maxObjectBytes: number;
  private readonly membership: ManagerMembership | undefined;

  constructor(opts: ControlServiceOptions) {
    this.store = opts.store;
    this.newId = opts.newId ?? newObjectId;
    this.now = opts.now ?? Date.now;
    this.maxObjectBytes = opts.maxObjectBytes ?? v.MAX_OBJECT_BYTES;
    this.membership = opts.membership;
  }

  // ===== nodes =====

  async getNode(req: GetNodeRequest): Promise<GetNodeResponse> {
    return { node: this.withManagerStatus(this.get<Node>("node", "node_id", req.nodeId)) };
  }

  private withManagerStatus(n: Node): Node {
    const status = this.membership?.managerStatus(n);
    if (status) n.managerStatus = status;
    return n;
  }

  async listNodes(req: ListNodesRequest): Promise<ListNodesResponse> {
    const f = req.filters;
    return {
      nodes: this.list<Node>("node", f, (n) => {
        if (f && f.roles.length > 0 && !f.roles.includes(n.role)) return false;
        return !(f && f.memberships.length > 0 && !f.memberships.includes(n.spec?.membership ?? 0));
      }).map((n) => this.withManagerStatus(n)),
    };
  }

  async updateNode(req: UpdateNodeRequest): Promise<UpdateNodeResponse> {
    requireRef("node_id", req.nodeId);
    const version = requireVersion("node_version", req.nodeVersion);
    let id = "";
    await this.store.update((tx) => {
      const cur = as<Node>(tx.resolve("node", req.nodeId));
      id = cur.id;
      checkVersion("node", stored(cur), version);
      v.validateNodeSpec(req.spec);
      const spec = NodeSpec.fromPartial(req.spec);
      v.checkNodeUpdate(cur.spec, spec);
      if (cur.spec?.desiredRole === NodeRole.NODE_ROLE_MANAGER && spec.desiredRole === NodeRole.NODE_ROLE_WORKER) {
        const managers = tx.list("node").filter((o) => o.id !== cur.id && as<Node>(o).spec?.desiredRole === NodeRole.NODE_ROLE_MANAGER);
        if (managers.length === 0) {
          throw precondition(`${describe("node", stored(cur))} is the last manager of the cluster and cannot be demoted; promote another node first`);
        }
        const blocker = this.membership?.demotionBlocker(cur);
        if (blocker) throw precondition(blocker);
      }
      const next = Node.fromPartial(cur);
      next.spec = spec;
      this.write(tx, "update", "node", next, Node.encode(next).finish().length);
    });
    return { node: this.readBack<Node>("node", id) };
  }

  async removeNode(req: RemoveNodeRequest): Promise<RemoveNodeResponse> {
    requireRef("node_id", req.nodeId);
    const orphan = (t: Task): boolean => {
      if ((t.status?.state ?? 0) >= TaskState.TASK_STATE_ORPHANED) return false;
      t.status = {
        ...TaskStatus.fromPartial(t.status ?? {}),
        state: TaskState.TASK_STATE_ORPHANED,
        timestampUnixMs: this.now(),
        message: "the task's node was removed from the cluster",
        err: "",
      };
      return true;
    };
    await this.removeWithTasks((tx) => {
      const node = as<Node>(tx.resolve("node", req.nodeId));
      if (node.role === NodeRole.NODE_ROLE_MANAGER || node.spec?.desiredRole === NodeRole.NODE_ROLE_MANAGER) {
        throw precondition(`${describe("node", stored(node))} is a manager: demote it first`);
      }
      const state = node.status?.state ?? NodeState.NODE_STATE_UNKNOWN;
      if (!req.force && state !== NodeState.NODE_STATE_DOWN && state !== NodeState.NODE_STATE_DISCONNECTED) {
        throw precondition(
          `${describe("node", stored(node))} is ${NODE_STATE_NAMES[state] ?? state}, not down, and cannot be removed: stop it first, or remove it with force`,
        );
      }
      tx.remove("node", node.id);
      // The node's certificate is refused from now on, until it expires.
      for (const o of tx.list("cluster")) {
        const c = Cluster.fromPartial(as<Cluster>(o));
        c.blacklistedCertificates[node.id] = { expiresAtUnixMs: certificateExpiry(node) };
        tx.update("cluster", stored(c));
      }
      return { tasks: tx.find("task", "node", node.id).map((o) => as<Task>(o)), change: orphan };
    });
    return {};
  }

  // ===== tasks =====

  async getTask(req: GetTaskRequest): Promise<GetTaskResponse> {
    return { task: this.get<Task>("task", "task_id", req.taskId) };
  }

  async listTasks(req: ListTasksRequest): Promise<ListTasksResponse> {
    const f = req.filters;
    const tasks = this.store.view((r) => {
      const serviceIds = (f?.serviceIds ?? []).map((ref) => filterId(r, "service", ref));
      const nodeIds = (f?.nodeIds ?? []).map((ref) => filterId(r, "node", ref));
      let candidates: StoreObject[];
      if (serviceIds.length > 0) candidates = serviceIds.flatMap((id) => r.find("task", "service", id));
      else if (nodeIds.length > 0) candidates = nodeIds.flatMap((id) => r.find("task", "node", id));
      else candidates = r.list("task");
      const common = commonFilter("task", f);
      const seen = new Set<string>();
      return candidates.filter((o) => {
        if (seen.has(o.id)) return false;
        seen.add(o.id);
        const t = as<Task>(o);
        if (serviceIds.length > 0 && !serviceIds.includes(t.serviceId)) return false;
        if (nodeIds.length > 0 && !nodeIds.includes(t.nodeId)) return false;
        if (f && f.desiredStates.length > 0 && !f.desiredStates.includes(t.desiredState)) return false;
        return common(o);
      });
    });
    return { tasks: tasks.sort(byId).map((o) => PRESENT.task(o) as Task) };
  }

  async removeTask(req: RemoveTaskRequest): Promise<RemoveTaskResponse> {
    requireRef("task_id", req.taskId);
    await this.store.update((tx) => {
      tx.remove("task", tx.resolve("task", req.taskId).id);
    });
    return {};
  }

  // ===== services =====

  async getService(req: GetServiceRequest): Promise<GetServiceResponse> {
    return { service: this.get<Service>("service", "service_id", req.serviceId) };
  }

  async listServices(req: ListServicesRequest): Promise<ListServicesResponse> {
    return { services: this.list<Service>("service", req.filters) };
  }

  async createService(req: CreateServiceRequest): Promise<CreateServiceResponse> {
    v.validateServiceSpec(req.spec);
    const spec = ServiceSpec.fromPartial(req.spec);
    const id = this.newId();
    const now = this.now();
    await this.store.update((tx) => {
      v.resolveServiceReferences(spec, tx);
      const svc = Service.fromPartial({ id, spec, specVersion: { index: 0 } });
      if (isJob(spec)) svc.jobStatus = { jobIteration: { index: 0 }, lastExecutionUnixMs: now };
      this.write(tx, "create", "service", svc, Service.encode(svc).finish().length);
    });
    return { service: this.readBack<Service>("service", id) };
  }

  async updateService(req: UpdateServiceRequest): Promise<UpdateServiceResponse> {
    requireRef("service_id", req.serviceId);
    const version = requireVersion("service_version", req.serviceVersion);
    const now = this.now();
    let id = "";
    await this.store.update((tx) => {
      const cur = as<Service>(tx.resolve("service", req.serviceId));
      id = cur.id;
      checkVersion("service", stored(cur), version);
      const next = Service.fromPartial(cur);
      if (req.rollback) {
        if (!next.previousSpec) throw precondition(`${describe("service", stored(cur))} has no previous spec to roll back to`);
        [next.spec, next.previousSpec] = [next.previousSpec, next.spec];
        [next.specVersion, next.previousSpecVersion] = [next.previousSpecVersion, next.specVersion];
        next.updateStatus = {
          state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED,
          startedAtUnixMs: now,
          completedAtUnixMs: 0,
          message: "manually requested rollback",
        };
        // The previous spec's secrets, configs and networks are not protected from removal.
        v.resolveServiceReferences(next.spec!, tx, cur.id);
      } else {
        v.validateServiceSpec(req.spec);
        const spec = ServiceSpec.fromPartial(req.spec);
        v.checkServiceUpdate(cur, spec);
        v.resolveServiceReferences(spec, tx, cur.id);
        next.previousSpec = next.spec;
        next.previousSpecVersion = next.specVersion;
        next.spec = spec;
        // Unique per spec: the version of the object the new spec replaces.
        next.specVersion = { index: version };
        next.updateStatus = undefined;
      }
      if (next.jobStatus) {
        next.jobStatus.jobIteration = { index: (cur.jobStatus?.jobIteration?.index ?? 0) + 1 };
        next.jobStatus.lastExecutionUnixMs = now;
      }
      this.write(tx, "update", "service", next, Service.encode(next).finish().length);
    });
    return { service: this.readBack<Service>("service", id) };
  }

  async removeService(req: RemoveServiceRequest): Promise<RemoveServiceResponse> {
    requireRef("service_id", req.serviceId);
    const markRemove = (t: Task): boolean => {
      if (t.desiredState >= TaskState.TASK_STATE_REMOVE) return false;
      t.desiredState = TaskState.TASK_STATE_REMOVE;
      return true;
    };
    await this.removeWithTasks((tx) => {
      const svc = tx.resolve("service", req.serviceId);
      tx.remove("service", svc.id);
      return { tasks: tx.find("task", "service", svc.id).map((o) => as<Task>(o)), change: markRemove };
    });
    return {};
  }

  // ===== networks =====

  async getNetwork(req: GetNetworkRequest): Promise<GetNetworkResponse> {
    return { network: this.get<Network>("network", "network_id", req.networkId) };
  }

  async listNetworks(req: ListNetworksRequest): Promise<ListNetworksResponse> {
    return { networks: this.list<Network>("network", req.filters) };
  }

  async createNetwork(req: CreateNetworkRequest): Promise<CreateNetworkResponse> {
    v.validateNetworkSpec(req.spec);
    const spec = NetworkSpec.fromPartial(req.spec);
    const id = this.newId();
    await this.store.update((tx) => {
      v.checkNetworkConflicts(spec, tx);
      const net = Network.fromPartial({ id, spec });
      this.write(tx, "create", "network", net, Network.encode(net).finish().length);
    });
    return { network: this.readBack<Network>("network", id) };
  }

  async updateNetwork(req: UpdateNetworkRequest): Promise<UpdateNetworkResponse> {
    requireRef("network_id", req.networkId);
    const version = requireVersion("network_version", req.networkVersion);
    let id = "";
    await this.store.update((tx) => {
      const cur = as<Network>(tx.resolve("network", req.networkId));
      id = cur.id;
      checkVersion("network", stored(cur), version);
      v.validateNetworkSpec(req.spec);
      const spec = NetworkSpec.fromPartial(req.spec);
      v.checkOnlyLabelsChange("network", NetworkSpec.toJSON, NetworkSpec.fromPartial(cur.spec ?? {}), spec);
      const next = Network.fromPartial(cur);
      next.spec = spec;
      this.write(tx, "update", "network", next, Network.encode(next).finish().length);
    });
    return { network: this.readBack<Network>("network", id) };
  }

  async removeNetwork(req: RemoveNetworkRequest): Promise<RemoveNetworkResponse> {
    requireRef("network_id", req.networkId);
    await this.store.update((tx) => {
      const net = as<Network>(tx.resolve("network", req.networkId));
      const what = describe("network", stored(net));
      const services = tx.find("service", "network", net.id);
      if (services.length > 0) throw precondition(`${what} is in use by ${describeAll("service", services)}`);
      if (net.spec?.ingress) {
        const publishing = tx
          .list("service")
          .filter((o) => (as<Service>(o).spec?.endpoint?.ports ?? []).some((p) => p.publishMode === PublishMode.PUBLISH_MODE_INGRESS));
        if (publishing.length > 0) {
          throw precondition(`${what} is the ingress network and ${describeAll("service", publishing)} publish ports through it`);
        }
      }
      const tasks = tx.list("task").filter((o) => {
        const t = as<Task>(o);
        return (t.status?.state ?? 0) <= TaskState.TASK_STATE_RUNNING && t.networks.some((a) => a.network?.id === net.id);
      });
      if (tasks.length > 0) throw precondition(`${what} is in use by ${describeAll("task", tasks)}`);
      tx.remove("network", net.id);
    });
    return {};
  }

  // ===== secrets =====

  async getSecret(req: GetSecretRequest): Promise<GetSecretResponse> {
    return { secret: this.get<Secret>("secret", "secret_id", req.secretId) };
  }

  async listSecrets(req: ListSecretsRequest): Promise<ListSecretsResponse> {
    return { secrets: this.list<Secret>("secret", req.filters, (s) => !s.internal) };
  }

  async createSecret(req: CreateSecretRequest): Promise<CreateSecretResponse> {
    v.validateSecretSpec(req.spec);
    const spec = SecretSpec.fromPartial(req.spec);
    const id = this.newId();
    await this.store.update((tx) => {
      const s = Secret.fromPartial({ id, spec });
      this.write(tx, "create", "secret", s, Secret.encode(s).finish().length);
    });
    return { secret: this.readBack<Secret>("secret", id) };
  }

  async updateSecret(req: UpdateSecretRequest): Promise<UpdateSecretResponse> {
    requireRef("secret_id", req.secretId);
    const version = requireVersion("secret_version", req.secretVersion);
    let id = "";
    await this.store.update((tx) => {
      const cur = as<Secret>(tx.resolve("secret", req.secretId));
      id = cur.id;
      checkVersion("secret", stored(cur), version);
      if (cur.internal) throw v.invalid("secret_id", req.secretId, `${describe("secret", stored(cur))} is internal and cannot be changed`);
      if (!req.spec) throw v.invalid("spec", undefined, "a secret spec is required");
      const spec = SecretSpec.fromPartial(req.spec);
      const current = SecretSpec.fromPartial(cur.spec ?? {});
      if (spec.data.length === 0) spec.data = current.data;
      v.validateSecretSpec(spec);
      v.checkSecretUpdate(current, spec);
      const next = Secret.fromPartial(cur);
      next.spec = spec;
      this.write(tx, "update", "secret", next, Secret.encode(next).finish().length);
    });
    return { secret: this.readBack<Secret>("secret", id) };
  }

  async removeSecret(req: RemoveSecretRequest): Promise<RemoveSecretResponse> {
    requireRef("secret_id", req.secretId);
    await this.store.update((tx) => {
      const s = as<Secret>(tx.resolve("secret", req.secretId));
      if (s.internal) throw v.invalid("secret_id", req.secretId, `${describe("secret", stored(s))} is internal and cannot be removed`);
      const services = tx.find("service", "secret", s.id);
      if (services.length > 0) throw precondition(`${describe("secret", stored(s))} is in use by ${describeAll("service", services)}`);
      tx.remove("secret", s.id);
    });
    return {};
  }

  // ===== configs =====

  async getConfig(req: GetConfigRequest): Promise<GetConfigResponse> {
    return { config: this.get<Config>("config", "config_id", req.configId) };
  }

  async listConfigs(req: ListConfigsRequest): Promise<ListConfigsResponse> {
    return { configs: this.list<Config>("config", req.filters) };
  }

  async createConfig(req: CreateConfigRequest): Promise<CreateConfigResponse> {
    v.validateConfigSpec(req.spec);
    const spec = ConfigSpec.fromPartial(req.spec);
    const id = this.newId();
    await this.store.update((tx) => {
      const c = Config.fromPartial({ id, spec });
      this.write(tx, "create", "config", c, Config.encode(c).finish().length);
    });
    return { config: this.readBack<Config>("config", id) };
  }

  async updateConfig(req: UpdateConfigRequest): Promise<UpdateConfigResponse> {
    requireRef("config_id", req.configId);
    const version = requireVersion("config_version", req.configVersion);
    let id = "";
    await this.store.update((tx) => {
      const cur = as<Config>(tx.resolve("config", req.configId));
      id = cur.id;
      checkVersion("config", stored(cur), version);
      if (!req.spec) throw v.invalid("spec", undefined, "a config spec is required");
      const spec = ConfigSpec.fromPartial(req.spec);
      const current = ConfigSpec.fromPartial(cur.spec ?? {});
      if (spec.data.length === 0) spec.data = current.data;
      v.validateConfigSpec(spec);
      v.checkConfigUpdate(current, spec);
      const next = Config.fromPartial(cur);
      next.spec = spec;
      this.write(tx, "update", "config", next, Config.encode(next).finish().length);
    });
    return { config: this.readBack<Config>("config", id) };
  }

  async removeConfig(req: RemoveConfigRequest): Promise<RemoveConfigResponse> {
    requireRef("config_id", req.configId);
    await this.store.update((tx) => {
      const c = tx.resolve("config", req.configId);
      const services = tx.find("service", "config", c.id);
      if (services.length > 0) throw precondition(`${describe("config", c)} is in use by ${describeAll("service", services)}`);
      tx.remove("config", c.id);
    });
    return {};
  }

  // ===== cluster =====

  async getCluster(req: GetClusterRequest): Promise<GetClusterResponse> {
    return { cluster: this.get<Cluster>("cluster", "cluster_id", req.clusterId) };
  }

  async listClusters(req: ListClustersRequest): Promise<ListClustersResponse> {
    return { clusters: this.list<Cluster>("cluster", req.filters) };
  }

  async updateCluster(req: UpdateClusterRequest): Promise<UpdateClusterResponse> {
    requireRef("cluster_id", req.clusterId);
    const version = requireVersion("cluster_version", req.clusterVersion);
    let id = "";
    await this.store.update((tx) => {
      const cur = as<Cluster>(tx.resolve("cluster", req.clusterId));
      id = cur.id;
      checkVersion("cluster", stored(cur), version);
      v.validateClusterSpec(req.spec);
      const spec = ClusterSpec.fromPartial(req.spec);
      v.checkClusterUpdate(cur.spec, spec);
      const next = Cluster.fromPartial(cur);
      next.spec = spec;
      rotateKeys(next, req.rotation);
      this.write(tx, "update", "cluster", next, Cluster.encode(next).finish().length);
    });
    return { cluster: this.readBack<Cluster>("cluster", id) };
  }

  async getUnlockKey(_req: GetUnlockKeyRequest): Promise<GetUnlockKeyResponse> {
    return this.store.view((r) => {
      const c = as<Cluster | undefined>(r.list("cluster")[0]);
      if (!c) throw new StoreError(StoreErrorCode.NotFound, "the cluster object does not exist yet");
      const key = c.unlockKeys.find((k) => k.subsystem === UNLOCK_KEY_SUBSYSTEM);
      return { unlockKey: key ? formatUnlockKey(key.key) : "", version: c.meta?.version };
    });
  }

  // ===== watch =====

  /**
   * Committed changes as a stream: a first message without events (the watch is established), then
   * one message per transaction with the matching events. Throws at once (not on iteration) when
   * the request is invalid or `resume_from` is too old. Ends when `signal` aborts or the consumer
   * stops iterating; fails if the watcher falls too far behind.
   */
  watch(req: WatchRequest, signal?: AbortSignal): AsyncGenerator<WatchMessage, void, undefined> {
    const kinds = req.kinds.map((k, i) => {
      if (!(KINDS as readonly string[]).includes(k)) throw v.invalid(`kinds[${i}]`, k, `must be ${v.orList(KINDS)}`);
      return k as Kind;
    });
    const w = this.store.watch({
      ...(kinds.length > 0 ? { kinds } : {}),
      ...(req.resumeFrom !== undefined ? { sinceVersion: req.resumeFrom } : {}),
    });
    return this.stream(w, req.resumeFrom ?? this.store.version, req.includeOldObject, signal);
  }

  private async *stream(w: Watch, start: number, includeOld: boolean, signal: AbortSignal | undefined): AsyncGenerator<WatchMessage, void, undefined> {
    const close = (): void => w.close();
    if (signal?.aborted) close();
    else signal?.addEventListener("abort", close, { once: true });
    try {
      yield { events: [], version: start };
      let events: WatchEvent[] = [];
      for await (const e of w) {
        if (e.type !== "commit") {
          events.push(this.watchEvent(e, includeOld));
        } else if (events.length > 0) {
          yield { events, version: e.version };
          events = [];
        }
      }
    } finally {
      signal?.removeEventListener("abort", close);
      w.close();
    }
  }

  private watchEvent(e: Exclude<StoreEvent, { type: "commit" }>, includeOld: boolean): WatchEvent {
    const object = e.type === "remove" ? e.old : e.object;
    return {
      action: ACTIONS[e.type],
      object: watchObject(e.kind, object),
      oldObject: e.type === "update" && includeOld ? watchObject(e.kind, e.old) : undefined,
    };
  }

  // ===== shared steps =====

  private get<T>(kind: Kind, field: string, ref: string): T {
    requireRef(field, ref);
    return this.store.view((r) => PRESENT[kind](r.resolve(kind, ref)) as T);
  }

  private list<T>(kind: Kind, filters: CommonFilters | undefined, extra?: (o: T) => boolean): T[] {
    const match = commonFilter(kind, filters);
    const found = this.store.view((r) => r.list(kind).filter((o) => match(o) && (!extra || extra(as<T>(o)))));
    return found.sort(byId).map((o) => PRESENT[kind](o) as T);
  }

  /** The object as stored after a write (the version it was applied at), as the API shows it. */
  private readBack<T>(kind: Kind, id: string): T {
    const o = this.store.view((r) => r.get(kind, id));
    if (!o) throw new StoreError(StoreErrorCode.NotFound, `${kind} ${id} was removed right after the change`);
    return PRESENT[kind](o) as T;
  }

  /** Stages a create or update after refusing an object over the size limit. */
  private write(tx: Tx, op: "create" | "update", kind: Kind, o: object, encodedBytes: number): void {
    const obj = stored(o);
    v.checkObjectSize(kind, nameOf(kind, obj) || obj.id, encodedBytes, this.maxObjectBytes);
    if (op === "create") tx.create(kind, obj);
    else tx.update(kind, obj);
  }

  /**
   * Removes an object and changes its tasks in the same transaction: `stage` removes it and returns
   * its tasks with a change that returns false when a task needs none. Tasks beyond what fits in one
   * transaction are changed in bounded batches right after (a task changed meanwhile is left to the
   * orchestrators). Retried when the transaction loses a race with a task update.
   */
  private async removeWithTasks(stage: (tx: Tx) => { tasks: Task[]; change: (t: Task) => boolean }): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const rest: Task[] = [];
      let change: (t: Task) => boolean = () => false;
      let refused = false;
      try {
        await this.store.update((tx) => {
          let staged: ReturnType<typeof stage>;
          try {
            staged = stage(tx);
          } catch (e) {
            refused = true;
            throw e;
          }
          change = staged.change;
          let bytes = 0;
          for (const cur of [...staged.tasks].sort(byId)) {
            const t = Task.fromPartial(cur);
            if (!change(t)) continue;
            const size = Task.encode(t).finish().length;
            if (bytes + size > TASK_BYTES_PER_TX) {
              rest.push(cur);
              continue;
            }
            bytes += size;
            tx.update("task", stored(t));
          }
        });
      } catch (e) {
        const raced = !refused && e instanceof StoreError && e.code === StoreErrorCode.Conflict;
        if (raced && attempt < REMOVE_ATTEMPTS) continue;
        throw e;
      }
      if (rest.length > 0) await this.changeTasksInBatches(rest, change);
      return;
    }
  }

  private async changeTasksInBatches(tasks: Task[], change: (t: Task) => boolean): Promise<void> {
    const chunks: string[][] = [[]];
    let bytes = 0;
    for (const t of tasks) {
      const size = Task.encode(t).finish().length;
      if (bytes + size > TASK_BYTES_PER_TX && chunks[chunks.length - 1]!.length > 0) {
        chunks.push([]);
        bytes = 0;
      }
      bytes += size;
      chunks[chunks.length - 1]!.push(t.id);
    }
    await this.store.batch((b) => {
      for (const ids of chunks) {
        b.update((tx) => {
          for (const id of ids) {
            const cur = tx.get("task", id);
            if (!cur) continue;
            const t = Task.fromPartial(as<Task>(cur));
            if (change(t)) tx.update("task", stored(t));
          }
        });
      }
    });
  }
}

function isJob(spec: ServiceSpec): boolean {
  return spec.mode?.$case === "replicatedJob" || spec.mode?.$case === "globalJob";
}

function watchObject(kind: Kind, o: StoreObject): WatchObject {
  return { object: { $case: kind, [kind]: PRESENT[kind](o) } as WatchObject["object"] };
}
