// The simulated executor (no processes) and the manual clock tests and simulations drive it with.
export { turn, until, type UntilOptions } from "./drive.js";
export { ManualClock } from "./manual-clock.js";
export { seededRandom } from "./random.js";
export {
  SIM_LOG_LINES,
  SimExecutor,
  simLogLines,
  behaviourFromLabels,
  type SimBehaviour,
  type SimExecutorOptions,
  type SimStats,
} from "./sim-executor.js";
