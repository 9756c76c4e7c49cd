// Hands task statuses to the session's report function: the latest status per task, in batches
// (everything that changed while the previous batch was being sent goes in the next one). A batch
// that fails is not retried here: the statuses stay known to the worker and reportAll() sends
// them all again once the session is back (as SwarmKit's agent re-reports on reconnect).
import type { TaskStatus } from "../../proto/gen/types.js";
import type { ReportStatuses, TaskStatusUpdate } from "./assignments.js";

/** Coalesces statuses per task and sends one batch at a time. */
export class StatusReporter {
  #pending = new Map<string, TaskStatus>();
  #sending: Promise<void> | null = null;

  constructor(
    private readonly report: ReportStatuses,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Queues a task's status; a later status of the same task replaces it if not yet sent. */
  push(taskId: string, status: TaskStatus): void {
    this.#pending.set(taskId, status);
    this.#sending ??= this.#drain();
  }

  /** Resolves once everything queued so far was handed to `report` and it settled. */
  async idle(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  async #drain(): Promise<void> {
    await Promise.resolve(); // collect the statuses of this turn into one batch
    while (this.#pending.size > 0) {
      const batch: TaskStatusUpdate[] = [...this.#pending].map(([taskId, status]) => ({ taskId, status }));
      this.#pending = new Map();
      try {
        await this.report(batch);
      } catch (err) {
        this.onError(err);
      }
    }
    this.#sending = null;
  }
}
