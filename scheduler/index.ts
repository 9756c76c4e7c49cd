// The scheduler's public surface: constraint syntax, placement checks and pure task placement.
export {
  parseConstraint,
  constraintKey,
  constraintHolds,
  nodeMatchesConstraints,
  nodeValue,
  CONSTRAINT_KEYS_HELP,
  type Constraint,
} from "./constraint.js";
export { nodeSupportsPlatforms, normalizeArch } from "./platform.js";
export { nodeMatchesPlacement, parseConstraints } from "./placement.js";
export { schedule, type ScheduleInput, type ScheduleResult, type Assignment, type Unschedulable } from "./schedule.js";
export { FAILURE_WINDOW_MS, FAILURES_TO_AVOID, type TaskFailure } from "./failures.js";
export { holdsNode } from "./node-state.js";
export { nodeAvailable } from "./filters.js";
