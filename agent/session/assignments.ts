// What the agent makes of the Assignments stream: each message as one event for the worker, and
// the check that incremental messages follow on from one another. Pure.
import { AssignmentChangeAction, AssignmentsType, type AssignmentsMessage } from "../../proto/gen/dispatcher.js";
import type { Config, Secret, Task } from "../../proto/gen/objects.js";

/**
 * One Assignments message. A complete set lists everything the node must have: tasks, secrets or
 * configs it has that are not listed must go (its `removed*` lists are empty). An incremental one
 * lists what changed since the message before.
 */
export interface AssignmentsEvent {
  type: "complete" | "incremental";
  /** Tasks to run, or whose desired state or spec changed (complete: every assigned task). */
  tasks: Task[];
  /** Ids of tasks no longer assigned (deleted on the managers): stop and forget them. */
  removedTasks: string[];
  /** Secrets with their values, needed by the tasks. */
  secrets: Secret[];
  removedSecrets: string[];
  configs: Config[];
  removedConfigs: string[];
}

/** The event for one message. */
export function assignmentsEvent(msg: AssignmentsMessage): AssignmentsEvent {
  const ev: AssignmentsEvent = {
    type: msg.type === AssignmentsType.ASSIGNMENTS_TYPE_COMPLETE ? "complete" : "incremental",
    tasks: [],
    removedTasks: [],
    secrets: [],
    removedSecrets: [],
    configs: [],
    removedConfigs: [],
  };
  for (const c of msg.changes) {
    const item = c.assignment?.item;
    if (!item) continue;
    const remove = c.action === AssignmentChangeAction.ASSIGNMENT_CHANGE_ACTION_REMOVE;
    switch (item.$case) {
      case "task":
        if (remove) ev.removedTasks.push(item.task.id);
        else ev.tasks.push(item.task);
        break;
      case "secret":
        if (remove) ev.removedSecrets.push(item.secret.id);
        else ev.secrets.push(item.secret);
        break;
      case "config":
        if (remove) ev.removedConfigs.push(item.config.id);
        else ev.configs.push(item.config);
        break;
    }
  }
  return ev;
}

/**
 * Whether `msg` cannot be applied after the message that resulted in `last` (null: none yet on
 * this stream): an incremental message must apply to exactly that result. A complete set always
 * applies. On a gap the agent reopens the stream to get a complete set.
 */
export function isGap(last: string | null, msg: AssignmentsMessage): boolean {
  if (msg.type === AssignmentsType.ASSIGNMENTS_TYPE_COMPLETE) return false;
  return last === null || msg.appliesTo !== last;
}
