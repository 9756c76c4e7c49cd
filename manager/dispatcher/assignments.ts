// One node's assignment set: the tasks the dispatcher has told the node's agent about, the secrets
// and configs they need, and the changes not sent yet. Pure (no store, no timers): the dispatcher
// feeds it tasks and a lookup of secrets and configs, and takes the changes to send.
//
// Rules (SwarmKit's manager/dispatcher/assignments.go):
// - A task is in the set once the scheduler assigned it (status.state ≥ ASSIGNED) and until it is
//   deleted from the store (the task reaper deletes REMOVE tasks once stopped).
// - A task entering the set at or before RUNNING brings the secrets and configs its container spec
//   references, each sent once however many tasks use it. They are released when the task moves
//   past RUNNING (the agent reported it stopped) or leaves the set; one that no task of the node
//   uses any more is removed from the node.
// - An update that changes only the task's status or meta is not sent once the task is past
//   ASSIGNED: from ACCEPTED on the agent wrote that status itself.
import { createHash } from "node:crypto";
import { AssignmentChangeAction, type AssignmentChange } from "../../proto/gen/dispatcher.js";
import { Config, Secret, Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";

/** Changes in one incremental message at most (SwarmKit: 100), and the window that collects them under load (SwarmKit: 100 ms). */
export const ASSIGNMENT_BATCH_LIMIT = 100;
export const ASSIGNMENT_BATCH_MS = 100;
/**
 * Messages a stream sends at once (on the next turn of the event loop) in one batch window; later
 * changes wait for the window's end. Two, because one change of a node is often followed at once by
 * another (an update stops the old task, then the scheduler places the new one here); a third
 * within the window means load.
 */
export const ASSIGNMENT_BURST = 2;

/** Where the set finds the secrets and configs tasks reference (the store as it is now). */
export interface DependencyLookup {
  secret(id: string): Secret | undefined;
  config(id: string): Config | undefined;
}

type DependencyKind = "secret" | "config";

/** A digest of the task without status and meta: equal digests mean nothing the agent acts on changed. */
function stableDigest(t: Task): string {
  const bytes = Task.encode({ ...t, status: undefined, meta: undefined }).finish();
  return createHash("sha1").update(bytes).digest("base64");
}

/** The secrets and configs a task's container references, as store keys ("secret/ID", "config/ID"). */
export function dependenciesOf(t: Task): { kind: DependencyKind; id: string }[] {
  const rt = t.spec?.runtime;
  if (rt?.$case !== "container") return [];
  return [
    ...rt.container.secrets.map((s) => ({ kind: "secret" as const, id: s.secretId })),
    ...rt.container.configs.map((c) => ({ kind: "config" as const, id: c.configId })),
  ];
}

const UPDATE = AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_UPDATE;
const REMOVE = AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_REMOVE;

/** Order of changes in a message: the agent gets what a task needs before the task, and drops it after. */
function rank(key: string, c: AssignmentChange): number {
  const isTask = key.startsWith("task/");
  if (c.action === UPDATE) return isTask ? 1 : 0;
  return isTask ? 2 : 3;
}

/** A node's assignment set and its unsent changes. */
export class AssignmentSet {
  /** Tasks in the set, with the digest of their stable part. */
  private readonly tasks = new Map<string, { task: Task; digest: string }>();
  /** Secrets and configs in the set ("secret/ID", "config/ID") and the ids of the tasks using each. */
  private readonly users = new Map<string, Set<string>>();
  /** Unsent changes by key ("task/ID", "secret/ID", "config/ID"); a later change of a key replaces an earlier one. */
  private changes = new Map<string, AssignmentChange>();

  constructor(readonly nodeId: string) {}

  /** Tasks in the set. */
  get size(): number {
    return this.tasks.size;
  }

  /** Changes waiting to be sent. */
  get pending(): number {
    return this.changes.size;
  }

  has(taskId: string): boolean {
    return this.tasks.has(taskId);
  }

  /** The secrets and configs in the set, as "secret/ID" and "config/ID", sorted. */
  dependencies(): string[] {
    return [...this.users.keys()].sort();
  }

  /**
   * Takes in a created or updated task of this node. Returns whether this made a change to send. A
   * task not yet ASSIGNED is ignored; one already in the set is resent only when more than its
   * status or meta changed, or while it is still ASSIGNED (the scheduler's writes).
   */
  addOrUpdateTask(t: Task, lookup: DependencyLookup): boolean {
    const state = t.status?.state ?? TaskState.TASK_STATE_NEW;
    if (state < TaskState.TASK_STATE_ASSIGNED) return false;
    const digest = stableDigest(t);
    const old = this.tasks.get(t.id);
    this.tasks.set(t.id, { task: t, digest });
    if (old && old.digest === digest && state > TaskState.TASK_STATE_ASSIGNED) {
      return state > TaskState.TASK_STATE_RUNNING ? this.releaseDependencies(t) : false;
    }
    // A task past RUNNING is only ever reported by the agent: it no longer needs its dependencies.
    if (!old && state <= TaskState.TASK_STATE_RUNNING) this.addDependencies(t, lookup);
    this.changes.set(`task/${t.id}`, { assignment: { item: { $case: "task", task: t } }, action: UPDATE });
    if (state > TaskState.TASK_STATE_RUNNING) this.releaseDependencies(t);
    return true;
  }

  /** Drops a task (deleted from the store, or no longer this node's). Returns whether it was in the set. */
  removeTask(taskId: string): boolean {
    const entry = this.tasks.get(taskId);
    if (!entry) return false;
    this.tasks.delete(taskId);
    this.changes.set(`task/${taskId}`, { assignment: { item: { $case: "task", task: Task.fromPartial({ id: taskId }) } }, action: REMOVE });
    this.releaseDependencies(entry.task);
    return true;
  }

  /** The unsent changes, in sending order (secrets and configs added, tasks updated, tasks removed, secrets and configs removed); clears them. */
  takeChanges(): AssignmentChange[] {
    const entries = [...this.changes];
    this.changes = new Map();
    return entries
      .map(([key, c], i) => ({ c, r: rank(key, c), i }))
      .sort((a, b) => a.r - b.r || a.i - b.i)
      .map((x) => x.c);
  }

  private addDependencies(t: Task, lookup: DependencyLookup): void {
    for (const { kind, id } of dependenciesOf(t)) {
      const key = `${kind}/${id}`;
      let users = this.users.get(key);
      if (!users) {
        const item = kind === "secret" ? lookup.secret(id) : lookup.config(id);
        // Missing (the control API refuses that): the agent rejects the task for want of it.
        if (!item) continue;
        users = new Set();
        this.users.set(key, users);
        const assignment = kind === "secret" ? { item: { $case: "secret" as const, secret: item as Secret } } : { item: { $case: "config" as const, config: item as Config } };
        this.changes.set(key, { assignment, action: UPDATE });
      }
      users.add(t.id);
    }
  }

  /** Releases what `t` used; returns whether a secret or config left the set. */
  private releaseDependencies(t: Task): boolean {
    let removed = false;
    for (const { kind, id } of dependenciesOf(t)) {
      const key = `${kind}/${id}`;
      const users = this.users.get(key);
      if (!users?.delete(t.id) || users.size > 0) continue;
      this.users.delete(key);
      const assignment =
        kind === "secret" ? { item: { $case: "secret" as const, secret: Secret.fromPartial({ id }) } } : { item: { $case: "config" as const, config: Config.fromPartial({ id }) } };
      this.changes.set(key, { assignment, action: REMOVE });
      removed = true;
    }
    return removed;
  }
}
