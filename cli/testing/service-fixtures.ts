// Test kit for `swarm service …`: services, tasks and nodes built from a few fields, and a fake
// swarmd whose ListTasks (and, for updates, GetService) play a script (one answer per call, the
// last one repeating), so progress tests step through a service converging one poll at a time.
import * as grpc from "@grpc/grpc-js";
import {
  CreateServiceResponse,
  GetServiceResponse,
  ListNodesResponse,
  ListServicesResponse,
  ListTasksResponse,
  type GetServiceRequest,
  type ListTasksRequest,
} from "../../proto/gen/control.js";
import { Node, Service, Task, type DeepPartial } from "../../proto/gen/objects.js";
import type { ServiceSpec } from "../../proto/gen/specs.js";
import { NodeState, TaskState } from "../../proto/gen/types.js";
import type { ControlApi, DaemonApi } from "../client.js";
import { grpcError, startFakeSwarmd, type FakeHandlers, type FakeLogsHandlers, type FakeSwarmd } from "./fake-swarmd.js";

/** The fake clock's start in runCli. */
export const NOW = Date.UTC(2025, 0, 1);

/** Two nodes that are up and one that is down (ListNodes answers all three unless a test says otherwise). */
export const NODE1 = Node.fromPartial({ id: "n1aaaaaaaaaaaaaaaaaaaaaaa", description: { hostname: "node1" }, status: { state: NodeState.NODE_STATE_READY } });
export const NODE2 = Node.fromPartial({ id: "n2bbbbbbbbbbbbbbbbbbbbbbb", description: { hostname: "node2" }, status: { state: NodeState.NODE_STATE_READY } });
export const NODE3 = Node.fromPartial({ id: "n3ccccccccccccccccccccccc", description: { hostname: "node3" }, status: { state: NodeState.NODE_STATE_DOWN } });
export const NODES = [NODE1, NODE2, NODE3];

/** A replicated service `web` (id svc1…) of `replicas` nginx tasks, with `spec` merged in. */
export function service(fields: { id?: string; name?: string; replicas?: number; spec?: DeepPartial<ServiceSpec> } & DeepPartial<Omit<Service, "spec">> = {}): Service {
  const { id = "svc1xxxxxxxxxxxxxxxxxxxxx", name = "web", replicas = 1, spec, ...rest } = fields;
  const partial: DeepPartial<Service> = {
    id,
    meta: { version: { index: 10 } },
    specVersion: { index: 0 },
    ...rest,
    spec: {
      annotations: { name },
      task: { runtime: { $case: "container", container: { image: "nginx:1.27" } } },
      mode: { $case: "replicated", replicated: { replicas } },
      ...spec,
    },
  };
  return Service.fromPartial(partial);
}

/** What task() builds a task from. */
export interface TaskFields {
  slot?: number;
  node?: Node;
  state: TaskState;
  desired?: TaskState;
  err?: string;
  at?: number;
  created?: number;
  serviceId?: string;
  iteration?: number;
  /** The spec version it was made from; default 0. */
  specVersion?: number;
  /** Its container's image; default nginx:1.27 with a digest. */
  image?: string;
}

/** A task of svc1 (slot `slot`, on `node`) in `state`, desired RUNNING unless said. */
export function task(id: string, fields: TaskFields): Task {
  return Task.fromPartial({
    id,
    meta: { createdAtUnixMs: fields.created ?? NOW },
    serviceId: fields.serviceId ?? "svc1xxxxxxxxxxxxxxxxxxxxx",
    slot: fields.slot ?? 0,
    nodeId: fields.node?.id ?? "",
    spec: { runtime: { $case: "container", container: { image: fields.image ?? "nginx:1.27@sha256:0123456789abcdef0123456789abcdef" } } },
    specVersion: { index: fields.specVersion ?? 0 },
    desiredState: fields.desired ?? TaskState.TASK_STATE_RUNNING,
    status: { state: fields.state, err: fields.err ?? "", timestampUnixMs: fields.at ?? NOW },
    jobIteration: fields.iteration === undefined ? undefined : { index: fields.iteration },
  });
}

/** A ListTasks handler answering `frames[i]` on its i-th call (the last frame from then on). */
export function scriptedTasks(frames: Task[][]): (req: ListTasksRequest) => ListTasksResponse {
  let call = 0;
  return () => ListTasksResponse.fromPartial({ tasks: frames[Math.min(call++, frames.length - 1)] });
}

/** A GetService handler answering `frames[i]` on its i-th call (the last frame from then on). */
export function scriptedServices(frames: Service[]): (req: GetServiceRequest) => GetServiceResponse {
  let call = 0;
  return () => GetServiceResponse.fromPartial({ service: frames[Math.min(call++, frames.length - 1)] });
}

/**
 * A fake swarmd that knows `services` (GetService by id, id prefix or name; ListServices),
 * `nodes`, creates services as `created` (default: services[0]) and answers ListTasks with `tasks`.
 */
export async function serviceCluster(opts: {
  services?: Service[];
  nodes?: Node[];
  tasks?: (req: ListTasksRequest) => ListTasksResponse;
  control?: FakeHandlers<ControlApi>;
  daemon?: FakeHandlers<DaemonApi>;
  logs?: FakeLogsHandlers;
}): Promise<FakeSwarmd> {
  const services = opts.services ?? [service()];
  return startFakeSwarmd({
    daemon: opts.daemon,
    logs: opts.logs,
    control: {
      createService: () => CreateServiceResponse.fromPartial({ service: services[0] }),
      getService: ({ serviceId }) => {
        const svc = services.find((s) => s.id === serviceId || s.spec?.annotations?.name === serviceId) ?? services.find((s) => s.id.startsWith(serviceId));
        if (!svc) throw grpcError(grpc.status.NOT_FOUND, `service ${serviceId} not found`);
        return GetServiceResponse.fromPartial({ service: svc });
      },
      listServices: () => ListServicesResponse.fromPartial({ services }),
      listNodes: () => ListNodesResponse.fromPartial({ nodes: opts.nodes ?? NODES }),
      listTasks: opts.tasks ?? (() => ListTasksResponse.fromPartial({})),
      ...opts.control,
    },
  });
}
