// What the worker is given (the assignments stream's sets) and hands back (status updates), and
// how a task's secrets and configs are found among the assigned ones.
import type { Config, Secret, Task } from "../../proto/gen/objects.js";
import type { TaskStatus } from "../../proto/gen/types.js";
import type { TaskDependencies } from "../executor/executor.js";

/**
 * One assignments message. `complete` is the node's whole set: tasks, secrets and configs not in it
 * are no longer assigned (the `removed*` lists are ignored). `incremental` changes the set: the
 * listed objects are added or updated, the `removed*` ids dropped, everything else stays.
 */
export interface Assignments {
  type: "complete" | "incremental";
  tasks: Task[];
  removedTaskIds: string[];
  secrets: Secret[];
  removedSecretIds: string[];
  configs: Config[];
  removedConfigIds: string[];
}

/** One task's new status, as the worker reports it. */
export interface TaskStatusUpdate {
  taskId: string;
  status: TaskStatus;
}

/** Sends status updates to the managers (the session batches and delivers them). */
export type ReportStatuses = (updates: TaskStatusUpdate[]) => Promise<void>;

/** The secret and config ids a task's container references. */
export function dependencyIds(task: Task): { secretIds: string[]; configIds: string[] } {
  const c = task.spec?.runtime?.$case === "container" ? task.spec.runtime.container : undefined;
  return {
    secretIds: (c?.secrets ?? []).map((r) => r.secretId),
    configIds: (c?.configs ?? []).map((r) => r.configId),
  };
}

/**
 * The secrets and configs a task references, found in the assigned ones (only those: a task
 * never sees another task's secrets), and the first one missing in SwarmKit's words
 * ("secret ID not found"), or null.
 */
export function resolveDependencies(
  task: Task,
  secrets: ReadonlyMap<string, Secret>,
  configs: ReadonlyMap<string, Config>,
): { deps: TaskDependencies; missing: string | null } {
  const { secretIds, configIds } = dependencyIds(task);
  const deps: TaskDependencies = { secrets: [], configs: [] };
  let missing: string | null = null;
  for (const id of secretIds) {
    const s = secrets.get(id);
    if (s) deps.secrets.push(s);
    else missing ??= `secret ${id} not found`;
  }
  for (const id of configIds) {
    const c = configs.get(id);
    if (c) deps.configs.push(c);
    else missing ??= `config ${id} not found`;
  }
  return { deps, missing };
}
