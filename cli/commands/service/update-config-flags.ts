// The --update-* and --rollback-* flags `service create` and `service update` share: how a rolling
// update, and a rollback, proceed. The given ones are written onto the spec's update (rollback)
// config. A spec without one starts from the defaults (parallelism 1, no delay, pause on failure,
// the manager's 5 s monitor, ratio 0, stop-first), as docker does, because a config present in a
// spec replaces the defaults as a whole. A rollback cannot itself be rolled back, so
// --rollback-failure-action takes pause or continue only.
import type { Command } from "commander";
import type { ServiceSpec } from "../../../proto/gen/specs.js";
import { UpdateConfig, UpdateFailureAction, UpdateOrder } from "../../../proto/gen/types.js";
import { choiceFlag, durationFlag, ratioFlag, uintFlag } from "../../flags.js";
import { FAILURE_ACTIONS, UPDATE_ORDERS } from "../../words.js";

/** The values of the --update-* and --rollback-* flags (undefined = not given). */
export interface UpdateConfigFlags {
  updateParallelism?: number;
  updateDelay?: number;
  updateFailureAction?: UpdateFailureAction;
  updateMonitor?: number;
  updateMaxFailureRatio?: number;
  updateOrder?: UpdateOrder;
  rollbackParallelism?: number;
  rollbackDelay?: number;
  rollbackFailureAction?: UpdateFailureAction;
  rollbackMonitor?: number;
  rollbackMaxFailureRatio?: number;
  rollbackOrder?: UpdateOrder;
}

/** The failure actions a rollback may take. */
const ROLLBACK_FAILURE_ACTIONS = { pause: FAILURE_ACTIONS.pause, continue: FAILURE_ACTIONS.continue } as const;

/** What a spec without an update (rollback) config runs with. */
const DEFAULT_CONFIG: UpdateConfig = {
  parallelism: 1,
  delayMs: 0,
  failureAction: UpdateFailureAction.UPDATE_FAILURE_ACTION_PAUSE,
  monitorMs: undefined,
  maxFailureRatio: 0,
  order: UpdateOrder.UPDATE_ORDER_STOP_FIRST,
};

const quoted = (words: object) => Object.keys(words).map((w) => `"${w}"`).join(", ");

/** Per flag prefix, docker's help wording and the failure actions allowed. */
const KINDS = [
  { prefix: "update", all: "update all at once", tasks: "updated", delay: "updates", during: "an update", order: "Update", actions: FAILURE_ACTIONS },
  { prefix: "rollback", all: "roll back all at once", tasks: "rolled back", delay: "task rollbacks", during: "a rollback", order: "Rollback", actions: ROLLBACK_FAILURE_ACTIONS },
] as const;

/** Declares the --update-* and --rollback-* flags on `cmd` (docker's names and help). */
export function addUpdateConfigOptions(cmd: Command): Command {
  for (const k of KINDS) {
    const flag = (name: string) => `--${k.prefix}-${name}`;
    cmd
      .option(`${flag("parallelism")} <uint>`, `Maximum number of tasks ${k.tasks} simultaneously (0 to ${k.all}) (default 1)`, uintFlag(flag("parallelism")))
      .option(`${flag("delay")} <duration>`, `Delay between ${k.delay} (ns|us|ms|s|m|h) (default 0s)`, durationFlag(flag("delay"), { min: 0 }))
      .option(`${flag("failure-action")} <string>`, `Action on ${k.prefix} failure (${quoted(k.actions)}) (default "pause")`, choiceFlag(flag("failure-action"), k.actions))
      .option(`${flag("monitor")} <duration>`, `Duration after each task ${k.prefix} to monitor for failure (ns|us|ms|s|m|h) (default 5s)`, durationFlag(flag("monitor"), { min: 0 }))
      .option(`${flag("max-failure-ratio")} <float>`, `Failure rate to tolerate during ${k.during} (default 0)`, ratioFlag(flag("max-failure-ratio")))
      .option(`${flag("order")} <string>`, `${k.order} order (${quoted(UPDATE_ORDERS)}) (default "stop-first")`, choiceFlag(flag("order"), UPDATE_ORDERS));
  }
  return cmd;
}

interface ConfigFlags {
  parallelism?: number;
  delay?: number;
  failureAction?: UpdateFailureAction;
  monitor?: number;
  maxFailureRatio?: number;
  order?: UpdateOrder;
}

/** `current` (or the defaults) with the given flags written on; `current` itself when none is given. */
function withFlags(current: UpdateConfig | undefined, f: ConfigFlags): UpdateConfig | undefined {
  if (Object.values(f).every((v) => v === undefined)) return current;
  const next = UpdateConfig.fromPartial(current ?? DEFAULT_CONFIG);
  if (f.parallelism !== undefined) next.parallelism = f.parallelism;
  if (f.delay !== undefined) next.delayMs = f.delay;
  if (f.failureAction !== undefined) next.failureAction = f.failureAction;
  if (f.monitor !== undefined) next.monitorMs = f.monitor;
  if (f.maxFailureRatio !== undefined) next.maxFailureRatio = f.maxFailureRatio;
  if (f.order !== undefined) next.order = f.order;
  return next;
}

/** Writes the given --update-* and --rollback-* flags onto `spec`. */
export function applyUpdateConfigFlags(spec: ServiceSpec, f: UpdateConfigFlags): void {
  spec.update = withFlags(spec.update, {
    parallelism: f.updateParallelism,
    delay: f.updateDelay,
    failureAction: f.updateFailureAction,
    monitor: f.updateMonitor,
    maxFailureRatio: f.updateMaxFailureRatio,
    order: f.updateOrder,
  });
  spec.rollback = withFlags(spec.rollback, {
    parallelism: f.rollbackParallelism,
    delay: f.rollbackDelay,
    failureAction: f.rollbackFailureAction,
    monitor: f.rollbackMonitor,
    maxFailureRatio: f.rollbackMaxFailureRatio,
    order: f.rollbackOrder,
  });
}
