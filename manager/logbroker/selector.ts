// Which tasks a log selector names, and on which nodes they are (pure reads of the store). A selector
// names services, nodes and tasks by id, id prefix or name; the broker resolves them to ids once, and
// the same resolved selector is what the agents match their own tasks against.
import { LogStream, type LogSelector, type LogSubscriptionOptions } from "../../proto/gen/logs.js";
import type { Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { StoreError, StoreErrorCode, type Kind, type ReadView } from "../store/index.js";
import { LogBrokerError, LogBrokerErrorCode } from "./errors.js";

/** `ref` as an id of `kind`, or NOT_FOUND in docker's words ("no such service: web"). */
function resolveId(r: ReadView, kind: Kind, ref: string): string {
  try {
    return r.resolve(kind, ref).id;
  } catch (e) {
    if (e instanceof StoreError && e.code === StoreErrorCode.NotFound) throw new LogBrokerError(LogBrokerErrorCode.NotFound, `no such ${kind}: ${ref}`);
    throw e;
  }
}

const unique = <T>(xs: T[]): T[] => [...new Set(xs)];

/** The selector with every reference resolved to an id; INVALID_ARGUMENT when it names nothing. */
export function resolveSelector(r: ReadView, selector: LogSelector | undefined): LogSelector {
  const s = selector ?? { serviceIds: [], nodeIds: [], taskIds: [] };
  if (s.serviceIds.length + s.nodeIds.length + s.taskIds.length === 0) {
    throw new LogBrokerError(LogBrokerErrorCode.InvalidArgument, "selector: empty; name at least one service, node or task");
  }
  for (const [field, refs] of [["serviceIds", s.serviceIds], ["nodeIds", s.nodeIds], ["taskIds", s.taskIds]] as const) {
    if (refs.some((ref) => ref === "")) throw new LogBrokerError(LogBrokerErrorCode.InvalidArgument, `selector.${field}: "" is not a reference; give an id, id prefix or name`);
  }
  return {
    serviceIds: unique(s.serviceIds.map((ref) => resolveId(r, "service", ref))),
    nodeIds: unique(s.nodeIds.map((ref) => resolveId(r, "node", ref))),
    taskIds: unique(s.taskIds.map((ref) => resolveId(r, "task", ref))),
  };
}

/** The options with defaults, or INVALID_ARGUMENT naming the bad field. */
export function checkOptions(options: LogSubscriptionOptions | undefined): LogSubscriptionOptions {
  const o = options ?? { streams: [], follow: false, tail: -1, sinceUnixMs: 0 };
  for (const s of o.streams) {
    if (s !== LogStream.LOG_STREAM_STDOUT && s !== LogStream.LOG_STREAM_STDERR) {
      throw new LogBrokerError(LogBrokerErrorCode.InvalidArgument, `options.streams: ${s} is not a log stream; use ${LogStream.LOG_STREAM_STDOUT} (stdout) or ${LogStream.LOG_STREAM_STDERR} (stderr)`);
    }
  }
  if (o.sinceUnixMs < 0) throw new LogBrokerError(LogBrokerErrorCode.InvalidArgument, `options.sinceUnixMs: ${o.sinceUnixMs} is negative; use 0 (from the start) or a Unix time in ms`);
  return { streams: unique(o.streams), follow: o.follow, tail: o.tail, sinceUnixMs: o.sinceUnixMs };
}

/** Whether a resolved selector names the task (by its service, its node or its id). */
export function selects(selector: LogSelector, task: Task): boolean {
  return selector.taskIds.includes(task.id) || selector.serviceIds.includes(task.serviceId) || (task.nodeId !== "" && selector.nodeIds.includes(task.nodeId));
}

/** Whether a node was given the task: it has a node and was scheduled (stopped tasks too: their containers keep their logs). */
export function isScheduled(task: Task): boolean {
  return task.nodeId !== "" && (task.status?.state ?? TaskState.TASK_STATE_NEW) >= TaskState.TASK_STATE_ASSIGNED;
}

/** The nodes of the scheduled tasks a resolved selector names, sorted. */
export function nodesOfSelection(r: ReadView, selector: LogSelector): string[] {
  const tasks = [
    ...selector.serviceIds.flatMap((id) => r.find("task", "service", id)),
    ...selector.nodeIds.flatMap((id) => r.find("task", "node", id)),
    ...selector.taskIds.map((id) => r.get("task", id)).filter((t) => t !== undefined),
  ] as unknown as Task[];
  return unique(tasks.filter(isScheduled).map((t) => t.nodeId)).sort();
}
