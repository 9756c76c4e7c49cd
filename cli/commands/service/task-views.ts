// How tasks look in `service ps`: docker's columns (ID NAME IMAGE NODE DESIRED STATE CURRENT STATE
// ERROR PORTS), names "web.1" (slot) or "web.NODEID" (global), history rows of the same name
// indented as " \_ web.1" under the newest one, "Running 2 minutes ago", errors quoted and cut at
// 30 characters unless --no-trunc.
import type { Node, Task } from "../../../proto/gen/objects.js";
import { TaskState } from "../../../proto/gen/types.js";
import type { ListFormat } from "../../output/format.js";
import { humanDuration } from "../../output/duration.js";
import { naturalCompare } from "../../output/natural-sort.js";
import { PORT_PROTOCOLS, capitalize, wordOf } from "../../words.js";
import { displayImage, shortId } from "./service-views.js";
import { stateWord } from "./task-states.js";

const MAX_ERROR_LENGTH = 30;
const HISTORY_INDENT = " \\_ ";

/** How ps shows tasks. */
export interface TaskViewOptions {
  /** Full ids, images and errors. */
  noTrunc: boolean;
  /** Indent history rows (table formats only, as docker). */
  indent: boolean;
  now: number;
  /** Service id → what NAME starts with (the service's name, or its id with --no-resolve). */
  serviceNames: ReadonlyMap<string, string>;
  /** Node id → what NODE shows. */
  nodeNames: ReadonlyMap<string, string>;
}

/** What NODE shows for a node: its spec name, else its hostname, else its id (docker's id resolver). */
export function nodeDisplayName(node: Node): string {
  return node.spec?.annotations?.name || node.description?.hostname || node.id;
}

/** "web.1", or "web.NODEID" for a global task. */
export function taskName(task: Task, serviceName: string): string {
  return `${serviceName}.${task.slot !== 0 ? task.slot : task.nodeId}`;
}

function errorText(err: string, noTrunc: boolean): string {
  const chars = [...err];
  const cut = !noTrunc && chars.length > MAX_ERROR_LENGTH ? `${chars.slice(0, MAX_ERROR_LENGTH - 1).join("")}…` : err;
  return cut === "" ? "" : `"${cut}"`;
}

function portsText(task: Task): string {
  return (task.status?.portStatus?.ports ?? [])
    .map((p) => `*:${p.publishedPort}->${p.targetPort}/${wordOf(PORT_PROTOCOLS, p.protocol)}`)
    .join(",");
}

/** The tasks in ps order: by name (naturally), the newest first within a name. */
export function sortTasks(tasks: readonly Task[], serviceNames: ReadonlyMap<string, string>): Task[] {
  const name = (t: Task) => taskName(t, serviceNames.get(t.serviceId) ?? t.serviceId);
  return [...tasks].sort((a, b) => naturalCompare(name(a), name(b)) || (b.meta?.createdAtUnixMs ?? 0) - (a.meta?.createdAtUnixMs ?? 0));
}

/** The ps rows of tasks already in ps order (keys sorted, as docker's JSON). */
export function taskRows(sorted: readonly Task[], o: TaskViewOptions) {
  let previous = "";
  return sorted.map((t) => {
    const name = taskName(t, o.serviceNames.get(t.serviceId) ?? t.serviceId);
    const history = name === previous;
    previous = name;
    const image = t.spec?.runtime?.$case === "container" ? t.spec.runtime.container.image : "";
    const state = t.status?.state ?? TaskState.TASK_STATE_NEW;
    return {
      CurrentState: `${capitalize(stateWord(state))} ${humanDuration(o.now - (t.status?.timestampUnixMs ?? 0)).toLowerCase()} ago`,
      DesiredState: capitalize(stateWord(t.desiredState)),
      Error: errorText(t.status?.err ?? "", o.noTrunc),
      ID: o.noTrunc ? t.id : shortId(t.id),
      Image: o.noTrunc ? image : displayImage(image),
      Name: history && o.indent ? `${HISTORY_INDENT}${name}` : name,
      Node: t.nodeId === "" ? "" : (o.nodeNames.get(t.nodeId) ?? t.nodeId),
      Ports: portsText(t),
    };
  });
}

/** `service ps` without --format, as docker prints it. */
export const TASK_LIST: ListFormat = {
  defaultFormat: "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}\t{{.Ports}}",
  headers: {
    ID: "ID",
    Name: "NAME",
    Image: "IMAGE",
    Node: "NODE",
    DesiredState: "DESIRED STATE",
    CurrentState: "CURRENT STATE",
    Error: "ERROR",
    Ports: "PORTS",
  },
};
