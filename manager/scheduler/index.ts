// The scheduler runner: places PENDING tasks (pure placement lives in scheduler/).
export { SchedulerRunner, type SchedulerRunnerOptions } from "./runner.js";
export { ASSIGNED_MESSAGE } from "./decisions.js";
export { needsPlacement } from "./task-changes.js";
