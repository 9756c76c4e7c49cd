// The global orchestrator's decision for one service: one task per eligible node. A node that is
// removed, DOWN, drained or no longer matches the placement has its tasks shut down; a paused one
// keeps them but gets no new ones (nor replacements); a stopped task on an eligible node is
// replaced there per its restart policy; dirty tasks go to the updater (rolling by default), node
// by node. Pure.
import { DecisionBuilder, type Decision } from "./plan.js";
import type { ServiceInput } from "./service-input.js";
import { judgeSlot, slotsByNode, type Slot } from "./slots.js";
import { createTask, releaseGates, replaceTask, stopTasks } from "./task-actions.js";
import { isLive } from "./task-state.js";
import { rollingUpdater, type TaskUpdater, type UpdateCandidate } from "./updater.js";
import { nodeEligibility, nodeIdsToVisit } from "./eligibility.js";

export function reconcileGlobal(input: ServiceInput, updater: TaskUpdater = rollingUpdater): Decision {
  const b = new DecisionBuilder();
  const placement = input.service.spec?.task?.placement;
  const slots = slotsByNode(input.tasks);
  const kept: Slot[] = [];
  const candidates: UpdateCandidate[] = [];

  for (const nodeId of nodeIdsToVisit(input.nodes, slots.keys())) {
    const slot = slots.get(nodeId) ?? { slot: 0, nodeId, tasks: [] };
    const eligibility = nodeEligibility(nodeId ? input.node(nodeId) : undefined, placement);
    if (eligibility === "stop") {
      stopTasks(input, b, slot.tasks.filter(isLive));
      continue;
    }
    kept.push(slot);
    const { verdict, extras, aside } = judgeSlot(slot, { job: false });
    stopTasks(input, b, extras);
    const place = { slot: 0, nodeId };
    switch (verdict.kind) {
      case "replace":
        if (eligibility === "run") replaceTask(input, b, slot, place, [verdict.task]);
        else stopTasks(input, b, [verdict.task]);
        break;
      case "retire":
        stopTasks(input, b, [verdict.task]);
        break;
      case "vacant":
        if (eligibility === "run") createTask(input, b, place);
        break;
      default:
        if (eligibility === "run") candidates.push({ slot, task: verdict.task, aside });
    }
  }
  updater.update(input, candidates, b);
  releaseGates(input, b, kept);
  return b.build();
}
