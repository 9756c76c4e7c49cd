// Waits for a service to converge and shows it, as `docker service create/update/scale/rollback`
// do without --detach: every poll reads the service, its up-to-date tasks and the nodes, and
// redraws the progress (see progress-updaters.ts). A task is up to date when an update would not
// replace it: made from the current spec version, or from an older one that differs in nothing an
// update replaces tasks for (the manager's own test, as docker's `_up-to-date` filter). A service
// converges when all its tasks run, and then must stay so for the update monitor period (default
// 5 s: "verify: Waiting 5 seconds to verify that tasks are stable..."); a job when all its tasks
// complete. The update status is followed as docker does: a paused update or rollback ends the
// wait with its reason, a rollback is announced ("rollback: update rolled back due to …") and
// progress then follows the previous spec. Unlike docker, the wait fails with each blocking task's
// reason when nothing progresses any more (convergence.ts) instead of waiting forever — except
// while an update runs, whose updater judges failing tasks itself — and an update that was rolled
// back fails once the previous spec converged. Polls are 200 ms apart on the context's timer, so
// tests do not sleep.
import { isTaskDirty } from "../../../manager/orchestrator/decisions/dirty.js";
import { ListTasksRequest_Filters } from "../../../proto/gen/control.js";
import type { Node, Service, Task } from "../../../proto/gen/objects.js";
import { NodeState, UpdateState } from "../../../proto/gen/types.js";
import type { Swarmd } from "../../client.js";
import type { CommandContext } from "../../context.js";
import { CliError, CliErrors } from "../../errors.js";
import { ProgressWriter } from "./progress-output.js";
import { progressUpdater, type ProgressUpdater } from "./progress-updaters.js";

/** Between polls, as docker. */
const POLL_MS = 200;
/** How long a task may stay pending with an error, or stopped beyond its restart delay, before it counts as stuck. */
const STALL_MS = 5_000;
/** How long a converged service must stay so when its spec sets no update monitor period (docker's). */
const DEFAULT_MONITOR_MS = 5_000;

/** The service's up-to-date tasks (for jobs, of its current iteration). */
function currentTasks(service: Service, tasks: readonly Task[], nodes: ReadonlyMap<string, Node>): Task[] {
  const iteration = service.jobStatus?.jobIteration?.index;
  return tasks.filter(
    (t) => !isTaskDirty(service, t, nodes.get(t.nodeId)) && (iteration === undefined || (t.jobIteration?.index ?? 0) === iteration),
  );
}

/** Whether the service's updater is replacing tasks (an update or a rollback runs). */
function isUpdating(service: Service): boolean {
  const state = service.updateStatus?.state;
  return state === UpdateState.UPDATE_STATE_UPDATING || state === UpdateState.UPDATE_STATE_ROLLBACK_STARTED;
}

/** Reads an update status: whether it ends the wait (an error, or done), and whether a rollback runs. */
class UpdateStatusWatch {
  rollback = false;
  /** Why the service was rolled back, once a rollback was seen. */
  rollbackReason: string | undefined;
  /** Printed after "Service converged" when a rollback completed. */
  closing: string | undefined;

  constructor(private readonly out: ProgressWriter) {}

  /** Returns true when the wait is over (an update completed before progress saw convergence). */
  check(service: Service, converged: boolean): boolean {
    const status = service.updateStatus;
    switch (status?.state) {
      case UpdateState.UPDATE_STATE_UPDATING:
        this.rollback = false;
        return false;
      case UpdateState.UPDATE_STATE_COMPLETED:
        return !converged;
      case UpdateState.UPDATE_STATE_PAUSED:
        throw new CliError(`service update paused: ${status.message}`);
      case UpdateState.UPDATE_STATE_ROLLBACK_STARTED:
        if (!this.rollback && status.message !== "") this.out.update("rollback", status.message);
        this.rollback = true;
        this.rollbackReason ??= status.message;
        return false;
      case UpdateState.UPDATE_STATE_ROLLBACK_PAUSED:
        throw new CliError(`service rollback paused: ${status.message}`);
      case UpdateState.UPDATE_STATE_ROLLBACK_COMPLETED:
        if (!converged) this.closing = `rollback: ${status.message}`;
        this.rollback = true;
        this.rollbackReason ??= status.message;
        return false;
      default:
        return false;
    }
  }
}

/** How waitForConvergence shows and judges the wait. */
export interface ConvergenceOptions {
  /** Draw nothing. */
  quiet?: boolean;
  /** The command updated the service: its rollback is a failure, reported once the previous spec converged. */
  rollbackFails?: boolean;
}

/**
 * Shows the service converging; resolves once it has (and stayed so for the monitor period),
 * throws CliErrors naming the stuck tasks when it cannot, and CliError when its update pauses (or,
 * with `rollbackFails`, was rolled back).
 */
export async function waitForConvergence(ctx: CommandContext, s: Swarmd, serviceId: string, opts: ConvergenceOptions = {}): Promise<void> {
  const out = new ProgressWriter(ctx.stdout, opts.quiet);
  const status = new UpdateStatusWatch(out);
  let updater: ProgressUpdater | undefined;
  let convergedAt: number | undefined;
  for (;;) {
    const { service } = await s.control.getService({ serviceId });
    if (!service) throw new CliError(`swarmd returned no service for ${serviceId}`);
    const monitorMs = service.spec?.update?.monitorMs || DEFAULT_MONITOR_MS;
    updater ??= progressUpdater(service, out, STALL_MS);
    if (status.check(service, convergedAt !== undefined)) return;
    const now = ctx.now();
    if (convergedAt !== undefined && now - convergedAt >= monitorMs) {
      out.update("verify", "Service converged");
      if (status.closing) out.message(status.closing);
      if (opts.rollbackFails && status.rollbackReason !== undefined) throw new CliError(`service update rolled back: ${status.rollbackReason}`);
      return;
    }
    const [{ tasks }, { nodes }] = await Promise.all([
      s.control.listTasks({ filters: ListTasksRequest_Filters.fromPartial({ serviceIds: [service.id] }) }),
      s.control.listNodes({ filters: undefined }),
    ]);
    const nodesById = new Map(nodes.map((n) => [n.id, n]));
    const result = updater.update({
      service,
      tasks: currentTasks(service, tasks, nodesById),
      activeNodes: new Set(nodes.filter((n) => n.status?.state !== NodeState.NODE_STATE_DOWN).map((n) => n.id)),
      nodeNames: new Map(nodes.map((n) => [n.id, n.description?.hostname ?? ""])),
      rollback: status.rollback,
      now,
    });
    if (result.converged) {
      if (service.jobStatus) {
        out.message("job complete");
        return;
      }
      convergedAt ??= now;
      const waitMs = monitorMs - (now - convergedAt);
      out.update("verify", `Waiting ${Math.max(1, Math.ceil(waitMs / 1000))} seconds to verify that tasks are stable...`);
    } else {
      if (result.stuck && !isUpdating(service)) {
        const name = service.spec?.annotations?.name || service.id;
        throw new CliErrors([
          `service ${name} cannot converge: ${result.stuck.length} ${result.stuck.length === 1 ? "task" : "tasks"} cannot run`,
          ...result.stuck.map((t) => `${t.label}: ${t.reason}`),
        ]);
      }
      if (convergedAt !== undefined) out.update("verify", "Detected task failure");
      convergedAt = undefined;
    }
    await ctx.sleep(POLL_MS);
  }
}
