// The constraint enforcer: a leader component that, whenever a node changes (labels, role,
// availability, resources), rejects the tasks on it that no longer fit (decisions/enforcer.ts).
// On start it checks every node. A rejection is skipped if its task changed meanwhile, and the
// node is checked again.
import type { Node, Task } from "../../proto/gen/objects.js";
import type { MemoryStore, ReadView, StoreEvent } from "../store/index.js";
import type { OrchestratorClock } from "./clock.js";
import { commitSteps } from "./commit.js";
import { rejectStep, tasksToReject } from "./decisions/enforcer.js";
import type { Step } from "./decisions/plan.js";
import { LeaderLoop } from "./leader-loop.js";

export interface ConstraintEnforcerOptions {
  clock: OrchestratorClock;
  onError: (e: Error) => void;
}

const as = <T>(o: unknown): T => o as T;

export class ConstraintEnforcer extends LeaderLoop {
  readonly name = "constraint-enforcer";
  private readonly nodes = new Set<string>();

  constructor(store: MemoryStore, opts: ConstraintEnforcerOptions) {
    super(store, opts.clock, ["node"], opts.onError);
  }

  protected resync(): void {
    this.store.view((r) => r.list("node").forEach((n) => this.nodes.add(n.id)));
  }

  protected collect(e: StoreEvent): void {
    if (e.type === "create" || e.type === "update") this.nodes.add(e.object.id);
  }

  protected hasWork(): boolean {
    return this.nodes.size > 0;
  }

  protected reset(): void {
    this.nodes.clear();
  }

  protected async pass(): Promise<void> {
    const nowMs = this.clock.now();
    const ids = [...this.nodes].sort();
    this.nodes.clear();
    const steps: Step[] = [];
    const nodeOfStep = new Map<Step, string>();
    const view = (r: ReadView): void => {
      for (const id of ids) {
        const node = as<Node | undefined>(r.get("node", id));
        if (!node) continue;
        const tasks = r.find("task", "node", id).map((o) => as<Task>(o));
        for (const rejection of tasksToReject(node, tasks)) {
          const s = rejectStep(rejection, nowMs);
          steps.push(s);
          nodeOfStep.set(s, id);
        }
      }
    };
    try {
      this.store.view(view);
    } catch (e) {
      ids.forEach((id) => this.nodes.add(id)); // a broken invariant: try again on the retry
      throw e;
    }
    if (steps.length === 0) return;
    const result = await commitSteps(this.store, steps);
    for (const s of result.skipped) this.nodes.add(nodeOfStep.get(s)!);
    if (result.skipped.length > 0) this.requestPass();
    for (const f of result.failed) {
      for (const s of f.steps) this.nodes.add(nodeOfStep.get(s)!);
      this.retryLater(f.error);
    }
  }
}
