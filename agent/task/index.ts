// The task controller: one task's container driven through the agent's part of the life cycle.
export { systemClock, type Clock, type Timer } from "./clock.js";
export { Limiter } from "./limiter.js";
export {
  TASK_MESSAGE,
  UNHEALTHY_CAUSE,
  copyStatus,
  errorMessage,
  exitErrorMessage,
  isTemporaryError,
  isTerminal,
} from "./status.js";
export {
  DEFAULT_RETRY_DELAY_MS,
  TaskController,
  type TaskControllerEnd,
  type TaskControllerOptions,
} from "./task-controller.js";
