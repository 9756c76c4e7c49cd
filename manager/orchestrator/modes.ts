// The three service orchestrators: which services each owns and which decision it makes.
import type { Service } from "../../proto/gen/objects.js";
import { reconcileGlobal } from "./decisions/global.js";
import { reconcileGlobalJob, reconcileReplicatedJob } from "./decisions/jobs.js";
import { reconcileReplicated } from "./decisions/replicated.js";
import { rollingUpdater, type TaskUpdater } from "./decisions/updater.js";
import type { OrchestratorMode } from "./service-orchestrator.js";

const modeOf = (s: Service): string | undefined => s.spec?.mode?.$case;

/** Replicated services: slots 1..replicas. */
export function replicatedMode(updater: TaskUpdater = rollingUpdater): OrchestratorMode {
  return {
    name: "replicated-orchestrator",
    owns: (s) => modeOf(s) === "replicated",
    followsAllNodes: () => false,
    decide: (input) => reconcileReplicated(input, updater),
  };
}

/** Global services: one task per eligible node. */
export function globalMode(updater: TaskUpdater = rollingUpdater): OrchestratorMode {
  return {
    name: "global-orchestrator",
    owns: (s) => modeOf(s) === "global",
    followsAllNodes: () => true,
    decide: (input) => reconcileGlobal(input, updater),
  };
}

/** Replicated and global jobs. */
export function jobMode(): OrchestratorMode {
  return {
    name: "job-orchestrator",
    owns: (s) => modeOf(s) === "replicatedJob" || modeOf(s) === "globalJob",
    followsAllNodes: (s) => modeOf(s) === "globalJob",
    decide: (input) => (modeOf(input.service) === "globalJob" ? reconcileGlobalJob(input) : reconcileReplicatedJob(input)),
  };
}
