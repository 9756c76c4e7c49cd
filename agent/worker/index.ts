// The agent's worker: assignments in, task controllers and the local task db, statuses out.
export {
  dependencyIds,
  resolveDependencies,
  type Assignments,
  type ReportStatuses,
  type TaskStatusUpdate,
} from "./assignments.js";
export { StatusReporter } from "./reporter.js";
export { MemoryTaskStore, TaskDb, type StoredTask, type TaskStore } from "./task-db.js";
export { DEFAULT_MAX_CONCURRENT_BRING_UPS, Worker, type WorkerEvents, type WorkerOptions } from "./worker.js";
