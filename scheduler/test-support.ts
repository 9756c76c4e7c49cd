// Fixtures for the scheduler's tests and benchmark: nodes and tasks from a few readable fields, and a
// seeded random source. Not part of the API.
import { Node, Task } from "../proto/gen/objects.js";
import { NodeAvailability, NodeRole, NodeState, PortProtocol, PublishMode, TaskState, type Platform } from "../proto/gen/types.js";

const GiB = 2 ** 30;

export interface NodeFixture {
  id: string;
  hostname?: string;
  ip?: string;
  role?: "manager" | "worker";
  os?: string;
  arch?: string;
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
  /** CPUs (default 4). */
  cpus?: number;
  /** GiB of memory (default 8). */
  memoryGiB?: number;
  /** Discrete generic resources by kind. */
  generic?: Record<string, number>;
  state?: NodeState;
  availability?: NodeAvailability;
}

/** A READY, ACTIVE linux/amd64 worker with 4 CPUs and 8 GiB unless told otherwise. */
export function makeNode(f: NodeFixture): Node {
  return Node.fromPartial({
    id: f.id,
    role: f.role === "manager" ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER,
    spec: { availability: f.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE, annotations: { name: `name-${f.id}`, labels: f.labels ?? {} } },
    description: {
      hostname: f.hostname ?? `host-${f.id}`,
      platform: { os: f.os ?? "linux", architecture: f.arch ?? "amd64" },
      resources: {
        nanoCpus: (f.cpus ?? 4) * 1e9,
        memoryBytes: (f.memoryGiB ?? 8) * GiB,
        generic: Object.entries(f.generic ?? {}).map(([kind, value]) => ({ resource: { $case: "discrete" as const, discrete: { kind, value } } })),
      },
      engine: { labels: f.engineLabels ?? {} },
    },
    status: { state: f.state ?? NodeState.NODE_STATE_READY, addr: f.ip ?? "" },
  });
}

export interface TaskFixture {
  id: string;
  serviceId?: string;
  specVersion?: number;
  nodeId?: string;
  state?: TaskState;
  desired?: TaskState;
  /** Reserved CPUs. */
  cpus?: number;
  /** Reserved GiB of memory. */
  memoryGiB?: number;
  generic?: Record<string, number>;
  constraints?: string[];
  spread?: string[];
  platforms?: Partial<Platform>[];
  maxReplicas?: number;
  /** Host-mode published TCP ports (in the allocated endpoint). */
  hostPorts?: number[];
  /** Host-mode published UDP ports (in the endpoint spec only). */
  udpSpecPorts?: number[];
}

/** A task of service "svc" version 1, PENDING without a node unless told otherwise. */
export function makeTask(f: TaskFixture): Task {
  const hostPort = (publishedPort: number, protocol: PortProtocol) => ({
    protocol,
    targetPort: 80,
    publishedPort,
    publishMode: PublishMode.PUBLISH_MODE_HOST,
  });
  return Task.fromPartial({
    id: f.id,
    serviceId: f.serviceId ?? "svc",
    specVersion: { index: f.specVersion ?? 1 },
    nodeId: f.nodeId ?? "",
    desiredState: f.desired ?? TaskState.TASK_STATE_RUNNING,
    status: { state: f.state ?? TaskState.TASK_STATE_PENDING },
    spec: {
      runtime: { $case: "container", container: { image: "busybox" } },
      resources: {
        reservations: {
          nanoCpus: (f.cpus ?? 0) * 1e9,
          memoryBytes: (f.memoryGiB ?? 0) * GiB,
          generic: Object.entries(f.generic ?? {}).map(([kind, value]) => ({ resource: { $case: "discrete" as const, discrete: { kind, value } } })),
        },
      },
      placement: {
        constraints: f.constraints ?? [],
        preferences: (f.spread ?? []).map((spreadDescriptor) => ({ spread: { spreadDescriptor } })),
        platforms: (f.platforms ?? []).map((p) => ({ os: p.os ?? "", architecture: p.architecture ?? "" })),
        maxReplicas: f.maxReplicas ?? 0,
      },
    },
    endpoint: {
      ports: (f.hostPorts ?? []).map((p) => hostPort(p, PortProtocol.PORT_PROTOCOL_TCP)),
      spec: { ports: (f.udpSpecPorts ?? []).map((p) => hostPort(p, PortProtocol.PORT_PROTOCOL_UDP)) },
    },
  });
}

/** A seeded PRNG in [0, 1) (mulberry32): the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
