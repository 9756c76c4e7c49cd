// Every task's life as the store records it, followed through a watch from the first write: its
// observed state and desired state only move forward, and once placed on a node it stays there.
// Each backward move is kept as a violation naming the task, the field and both values.
import type { Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import type { MemoryStore, Watch } from "../../manager/store/index.js";

interface Seen {
  state: TaskState;
  desired: TaskState;
  nodeId: string;
}

const name = (s: TaskState): string => TaskState[s] ?? String(s);

export class TaskHistory {
  private readonly seen = new Map<string, Seen>();
  private readonly violations: string[] = [];
  private readonly watch: Watch;
  private readonly done: Promise<void>;

  constructor(store: MemoryStore) {
    this.watch = store.watch({ kinds: ["task"] });
    this.done = this.follow();
  }

  /** The backward moves seen since the last call. */
  takeViolations(): string[] {
    return this.violations.splice(0);
  }

  async close(): Promise<void> {
    this.watch.close();
    await this.done;
  }

  private async follow(): Promise<void> {
    for await (const e of this.watch) {
      if (e.type === "commit") continue;
      if (e.type === "remove") {
        this.seen.delete(e.old.id);
        continue;
      }
      if (e.type === "create" && this.seen.has(e.object.id)) this.violations.push(`task ${e.object.id} created twice`);
      this.record(e.object as unknown as Task, e.version);
    }
  }

  private record(t: Task, version: number): void {
    const now: Seen = { state: t.status?.state ?? TaskState.TASK_STATE_NEW, desired: t.desiredState, nodeId: t.nodeId };
    const before = this.seen.get(t.id);
    this.seen.set(t.id, now);
    if (!before) return;
    const at = `task ${t.id} at version ${version}`;
    if (now.state < before.state) this.violations.push(`${at}: observed state went back from ${name(before.state)} to ${name(now.state)}`);
    if (now.desired < before.desired) this.violations.push(`${at}: desired state went back from ${name(before.desired)} to ${name(now.desired)}`);
    if (before.nodeId !== "" && now.nodeId !== before.nodeId) this.violations.push(`${at}: moved from node ${before.nodeId} to ${JSON.stringify(now.nodeId)}`);
  }
}
