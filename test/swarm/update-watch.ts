// Watching a service while its update runs: its tasks are read with ListTasks through a manager's
// local socket every 50 ms, from before the update is sent until after it ended, so that a test can
// assert what held at every sample (never fewer than N tasks running, never more than M wanted).
import { setTimeout as pause } from "node:timers/promises";
import type { Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import { running, tasksOf } from "./cluster-api.js";
import type { SwarmdHost } from "./swarm-hosts.js";

const SAMPLE_EVERY_MS = 50;

/** The service's tasks as one ListTasks answer had them. */
export interface TaskSample {
  atMs: number;
  tasks: Task[];
}

/** Tasks an orchestrator wants to run: desired state RUNNING (started or not). */
export const wanted = (tasks: Task[]): Task[] => tasks.filter((t) => t.desiredState === TaskState.TASK_STATE_RUNNING);

/** Samples a service's tasks until stopped. */
class TaskSampler {
  private readonly samples: TaskSample[] = [];
  private readonly errors: string[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly on: SwarmdHost,
    private readonly service: string,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        this.samples.push({ atMs: Date.now(), tasks: await tasksOf(this.on, this.service) });
      } catch (e) {
        this.errors.push((e as Error).message);
      }
      await pause(SAMPLE_EVERY_MS);
    }
  }

  /** Stops after the sample in flight; returns every sample taken. Throws when a read failed. */
  async stop(): Promise<TaskSample[]> {
    this.stopped = true;
    await this.loop;
    if (this.errors.length > 0) throw new Error(`sampling ${this.service}: ${this.errors.length} reads failed, the first: ${this.errors[0]}`);
    return this.samples;
  }
}

/**
 * Samples `service`'s tasks through `on`'s local socket from before `action` starts until after it
 * ends; returns the samples. Throws what `action` throws, or when a read failed.
 */
export async function sampleDuring(on: SwarmdHost, service: string, action: () => Promise<unknown>): Promise<TaskSample[]> {
  const sampler = new TaskSampler(on, service);
  try {
    await action();
  } catch (e) {
    await sampler.stop().catch(() => undefined);
    throw e;
  }
  return sampler.stop();
}

/** "running/wanted" at each change of the counts, with its time from the first sample: how the update went, for failure messages. */
export function countsOverTime(samples: readonly TaskSample[]): string {
  const out: string[] = [];
  let last = "";
  for (const s of samples) {
    const counts = `${running(s.tasks).length}/${wanted(s.tasks).length}`;
    if (counts !== last) out.push(`+${s.atMs - samples[0]!.atMs}ms ${counts}`);
    last = counts;
  }
  return `running/wanted over ${samples.length} samples: ${out.join(", ")}`;
}
