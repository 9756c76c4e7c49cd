// The local-socket API of a swarmd (Daemon + Control services, insecure credentials on a unix
// socket) as promises: forming a cluster (Info, Init, Join) and the Control calls the benches make.
import * as grpc from "@grpc/grpc-js";
import { unary } from "../../daemon/leader-call.js";
import {
  ControlClient,
  type CreateServiceResponse,
  type GetServiceResponse,
  type ListClustersResponse,
  type ListNodesResponse,
  type ListTasksRequest_Filters,
  type ListTasksResponse,
  type UpdateNodeResponse,
  type UpdateServiceResponse,
  type WatchMessage,
} from "../../proto/gen/control.js";
import { DaemonClient, type InfoResponse, type InitResponse, type JoinResponse } from "../../proto/gen/daemon.js";
import type { Node, Service, Task } from "../../proto/gen/objects.js";
import type { NodeSpec, ServiceSpec } from "../../proto/gen/specs.js";
import { NodeAvailability } from "../../proto/gen/types.js";

const CALL_MS = 30_000;
/** A listing of 10,000 tasks is larger than grpc-js's default 4 MiB limit. */
const UNLIMITED = { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 };

function daemonCall<T>(socket: string, fn: (c: DaemonClient) => Promise<T>): Promise<T> {
  const c = new DaemonClient(`unix://${socket}`, grpc.credentials.createInsecure());
  return fn(c).finally(() => c.close());
}

export function daemonInfo(socket: string): Promise<InfoResponse> {
  return daemonCall(socket, (c) => unary<InfoResponse>((md, o, cb) => c.info({}, md, o, cb), 5_000));
}

/** Founds a cluster on this node; `addr` is both its listen and advertise address. */
export function daemonInit(socket: string, addr: string): Promise<InitResponse> {
  return daemonCall(socket, (c) =>
    unary<InitResponse>(
      (md, o, cb) => c.init({ listenAddr: addr, advertiseAddr: addr, autolock: false, certExpiryMs: 0, forceNewCluster: false, dispatcherHeartbeatMs: 0 }, md, o, cb),
      CALL_MS,
    ),
  );
}

/** Joins the cluster of the manager at `remote` with `token`; `addr` is this node's listen and advertise address. */
export function daemonJoin(socket: string, remote: string, token: string, addr: string): Promise<JoinResponse> {
  return daemonCall(socket, (c) =>
    unary<JoinResponse>(
      (md, o, cb) => c.join({ token, remoteAddr: remote, advertiseAddr: addr, listenAddr: addr, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE }, md, o, cb),
      60_000,
    ),
  );
}

/** The Control service on a manager's local socket (a follower forwards writes to the leader). */
export class LocalControl {
  private readonly client: ControlClient;

  constructor(socket: string) {
    this.client = new ControlClient(`unix://${socket}`, grpc.credentials.createInsecure(), UNLIMITED);
  }

  close(): void {
    this.client.close();
  }

  /** The cluster's join tokens and root CA certificate (PEM). */
  async clusterSecrets(): Promise<{ workerToken: string; managerToken: string; rootCertPem: string }> {
    const res = await unary<ListClustersResponse>((md, o, cb) => this.client.listClusters({ filters: undefined }, md, o, cb), CALL_MS);
    const ca = res.clusters[0]?.rootCa;
    if (!ca?.joinTokens) throw new Error("ListClusters: no cluster with a root CA yet");
    return { workerToken: ca.joinTokens.worker, managerToken: ca.joinTokens.manager, rootCertPem: Buffer.from(ca.caCert).toString() };
  }

  async nodes(): Promise<Node[]> {
    return (await unary<ListNodesResponse>((md, o, cb) => this.client.listNodes({ filters: undefined }, md, o, cb), CALL_MS)).nodes;
  }

  /** Sets a node's availability (read-modify-write of its spec at the version read). */
  async setAvailability(node: Node, availability: NodeAvailability): Promise<Node> {
    const spec: NodeSpec = { ...node.spec!, availability };
    const res = await unary<UpdateNodeResponse>((md, o, cb) => this.client.updateNode({ nodeId: node.id, nodeVersion: node.meta?.version, spec }, md, o, cb), CALL_MS);
    return res.node!;
  }

  async createService(spec: ServiceSpec): Promise<Service> {
    return (await unary<CreateServiceResponse>((md, o, cb) => this.client.createService({ spec }, md, o, cb), CALL_MS)).service!;
  }

  async service(idOrName: string): Promise<Service> {
    return (await unary<GetServiceResponse>((md, o, cb) => this.client.getService({ serviceId: idOrName }, md, o, cb), CALL_MS)).service!;
  }

  /** Replaces the spec of `service` (as read: its meta.version guards the update). */
  async updateService(service: Service, spec: ServiceSpec): Promise<Service> {
    const res = await unary<UpdateServiceResponse>(
      (md, o, cb) => this.client.updateService({ serviceId: service.id, serviceVersion: service.meta?.version, spec, rollback: false }, md, o, cb),
      CALL_MS,
    );
    return res.service!;
  }

  async removeService(idOrName: string): Promise<void> {
    await unary<unknown>((md, o, cb) => this.client.removeService({ serviceId: idOrName }, md, o, cb), CALL_MS);
  }

  async tasks(filters: Partial<ListTasksRequest_Filters>): Promise<Task[]> {
    const full: ListTasksRequest_Filters = { idPrefixes: [], names: [], namePrefixes: [], labels: [], serviceIds: [], nodeIds: [], desiredStates: [], ...filters };
    return (await unary<ListTasksResponse>((md, o, cb) => this.client.listTasks({ filters: full }, md, o, cb), CALL_MS)).tasks;
  }

  /**
   * Calls `onTask` with every task as each committed change leaves it (removals included), from now
   * until the returned function ends the watch. Resolves once the stream is open (its first message).
   */
  watchTasks(onTask: (task: Task) => void, onError: (e: Error) => void): Promise<() => void> {
    const call = this.client.watch({ kinds: ["task"], includeOldObject: false });
    const stop = (): void => {
      call.removeAllListeners("error");
      call.on("error", () => undefined);
      call.cancel();
    };
    return new Promise((resolve, reject) => {
      let open = false;
      call.on("data", (m: WatchMessage) => {
        if (!open) {
          open = true;
          resolve(stop);
        }
        for (const ev of m.events) if (ev.object?.object?.$case === "task") onTask(ev.object.object.task);
      });
      call.on("error", (e: Error) => (open ? onError(e) : reject(e)));
    });
  }
}
