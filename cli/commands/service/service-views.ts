// How services look in `service ls`: docker's columns (ID NAME MODE REPLICAS IMAGE PORTS), the
// running/desired counts docker's daemon computes (ListServiceStatuses), the image without its
// digest, and the ingress ports folded into ranges ("*:8080-8081->80-81/tcp").
import type { Service, Task } from "../../../proto/gen/objects.js";
import { TaskState, type PortConfig } from "../../../proto/gen/types.js";
import type { ListFormat } from "../../output/format.js";
import { PORT_PROTOCOLS, PUBLISH_MODES, wordOf } from "../../words.js";

const SHORT_ID = 12;

/** Docker's TruncateID: the first 12 characters. */
export function shortId(id: string): string {
  return id.slice(0, SHORT_ID);
}

/** "replicated", "global", "replicated job", "global job" (docker's MODE column). */
export function modeText(service: Service): string {
  switch (service.spec?.mode?.$case) {
    case "replicated":
      return "replicated";
    case "global":
      return "global";
    case "replicatedJob":
      return "replicated job";
    case "globalJob":
      return "global job";
    default:
      return "";
  }
}

/** Running, desired and (jobs) completed tasks, counted as docker's daemon counts them. */
export interface ServiceStatus {
  running: number;
  desired: number;
  completed: number;
}

/** The status of `service` from its tasks (jobs count only their current iteration). */
export function serviceStatus(service: Service, tasks: readonly Task[]): ServiceStatus {
  const mode = service.spec?.mode;
  const status: ServiceStatus = { running: 0, desired: 0, completed: 0 };
  if (mode?.$case === "replicated") status.desired = mode.replicated.replicas;
  if (mode?.$case === "replicatedJob") status.desired = mode.replicatedJob.maxConcurrent || 1;
  const global = mode?.$case === "global" || mode?.$case === "globalJob";
  const iteration = service.jobStatus?.jobIteration?.index;
  for (const t of tasks) {
    if (t.serviceId !== service.id) continue;
    const state = t.status?.state ?? TaskState.TASK_STATE_NEW;
    if (iteration !== undefined) {
      if ((t.jobIteration?.index ?? 0) !== iteration) continue;
      if (state === TaskState.TASK_STATE_COMPLETE) status.completed++;
    }
    if (state === TaskState.TASK_STATE_RUNNING) status.running++;
    if (global && t.desiredState === TaskState.TASK_STATE_RUNNING) status.desired++;
    if (global && state !== TaskState.TASK_STATE_COMPLETE && t.desiredState === TaskState.TASK_STATE_COMPLETE) status.desired++;
  }
  return status;
}

/** Docker's REPLICAS column: "3/3", "2/3 (max 1 per node)", "1/2 (3/5 completed)". */
export function replicasText(service: Service, s: ServiceStatus): string {
  const mode = service.spec?.mode;
  if (mode?.$case === "replicatedJob") {
    const total = mode.replicatedJob.totalCompletions || mode.replicatedJob.maxConcurrent || 1;
    return `${s.running}/${s.desired} (${s.completed}/${total} completed)`;
  }
  if (mode?.$case === "globalJob") return `${s.running}/${s.desired} (${s.completed}/${s.desired + s.completed} completed)`;
  const max = service.spec?.task?.placement?.maxReplicas ?? 0;
  if (mode?.$case === "replicated" && max > 0) return `${s.running}/${s.desired} (max ${max} per node)`;
  return `${s.running}/${s.desired}`;
}

/** An image reference as docker shows it: a tagged image without its digest, without docker.io/library/. */
export function displayImage(image: string): string {
  const at = image.indexOf("@");
  const named = at === -1 ? image : image.slice(0, at);
  const lastSlash = named.lastIndexOf("/");
  const tagged = named.lastIndexOf(":") > lastSlash;
  if (!tagged) return image;
  return named.replace(/^(?:docker\.io|index\.docker\.io)\/(?:library\/(?=[^/]+$))?/, "");
}

const protocolWord = (p: PortConfig) => wordOf(PORT_PROTOCOLS, p.protocol);

/** Docker's PORTS column: ingress ports, consecutive ones folded into ranges. */
export function portsText(ports: readonly PortConfig[]): string {
  const sorted = ports
    .filter((p) => p.publishMode === PUBLISH_MODES.ingress)
    .sort((a, b) => (a.protocol === b.protocol ? a.publishedPort - b.publishedPort : protocolWord(a) < protocolWord(b) ? -1 : 1));
  const out: string[] = [];
  let range: { pStart: number; pEnd: number; tStart: number; tEnd: number; protocol: string } | undefined;
  const show = (r: NonNullable<typeof range>) =>
    `*:${r.pEnd > r.pStart ? `${r.pStart}-${r.pEnd}` : r.pStart}->${r.tEnd > r.tStart ? `${r.tStart}-${r.tEnd}` : r.tStart}/${r.protocol}`;
  // Go's uint32 arithmetic: a port below the range's end wraps around and starts a new range.
  const gap = (a: number, b: number) => (a - b) >>> 0;
  for (const p of sorted) {
    const protocol = protocolWord(p);
    const isRange = range !== undefined && range.tEnd !== range.tStart;
    if (!range || protocol !== range.protocol || gap(p.publishedPort, range.pEnd) > 1 || gap(p.targetPort, range.tEnd) > 1 || (isRange && p.targetPort <= range.tEnd)) {
      if (range && range.pStart > 0) out.push(show(range));
      range = { pStart: p.publishedPort, pEnd: p.publishedPort, tStart: p.targetPort, tEnd: p.targetPort, protocol };
      continue;
    }
    range.pEnd = p.publishedPort;
    range.tEnd = p.targetPort;
  }
  if (range && range.pStart > 0) out.push(show(range));
  return out.join(", ");
}

/** One `service ls` row (keys sorted, as docker's JSON). */
export function serviceRow(service: Service, tasks: readonly Task[]) {
  return {
    ID: shortId(service.id),
    Image: displayImage(service.spec?.task?.runtime?.$case === "container" ? service.spec.task.runtime.container.image : ""),
    Mode: modeText(service),
    Name: service.spec?.annotations?.name ?? "",
    Ports: portsText(service.endpoint?.ports ?? []),
    Replicas: replicasText(service, serviceStatus(service, tasks)),
  };
}

/** `service ls` without --format, as docker prints it. */
export const SERVICE_LIST: ListFormat = {
  defaultFormat: "table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}",
  headers: { ID: "ID", Name: "NAME", Mode: "MODE", Replicas: "REPLICAS", Image: "IMAGE", Ports: "PORTS" },
};
