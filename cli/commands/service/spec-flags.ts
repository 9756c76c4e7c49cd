// Flags that set parts of a service spec, shared by `service create` and `service update`:
// replicas and job sizes, the container's user, workdir, hostname, entrypoint and stop settings,
// resources, the restart policy, the health check, and the update and rollback configs
// (update-config-flags.ts). `addSpecOptions` declares them with
// docker's names and help; `applySpecFlags` writes the given ones onto a spec, leaving everything
// the user did not give as it was (absent on create, so the manager's defaults apply).
import type { Command } from "commander";
import type { ServiceSpec } from "../../../proto/gen/specs.js";
import { ContainerSpec, TaskSpec } from "../../../proto/gen/specs.js";
import { HealthConfig, Placement, ResourceRequirements, RestartPolicy, type RestartCondition, type Resources } from "../../../proto/gen/types.js";
import { CliError } from "../../errors.js";
import { choiceFlag, cpusFlag, durationFlag, memoryFlag, uintFlag, wordsFlag } from "../../flags.js";
import { RESTART_CONDITIONS } from "../../words.js";
import { addUpdateConfigOptions, applyUpdateConfigFlags, type UpdateConfigFlags } from "./update-config-flags.js";

/** The values of the shared spec flags, as their parsers return them (undefined = not given). */
export interface SpecFlags extends UpdateConfigFlags {
  replicas?: number;
  maxConcurrent?: number;
  totalCompletions?: number;
  replicasMaxPerNode?: number;
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string[];
  stopGracePeriod?: number;
  stopSignal?: string;
  limitCpu?: number;
  limitMemory?: number;
  reserveCpu?: number;
  reserveMemory?: number;
  restartCondition?: RestartCondition;
  restartDelay?: number;
  restartMaxAttempts?: number;
  restartWindow?: number;
  healthCmd?: string;
  healthInterval?: number;
  healthTimeout?: number;
  healthRetries?: number;
  healthStartPeriod?: number;
  /** false with --no-healthcheck (commander's negated flag). */
  healthcheck?: boolean;
}

const nonNegativeDuration = (flag: string) => durationFlag(flag, { min: 0 });

/** Declares the shared spec flags on `cmd` (docker's names, value types and help). */
export function addSpecOptions(cmd: Command): Command {
  return addUpdateConfigOptions(cmd)
    .option("--replicas <uint>", "Number of tasks", uintFlag("--replicas"))
    .option("--max-concurrent <uint>", "Number of job tasks to run concurrently (default equal to --replicas)", uintFlag("--max-concurrent"))
    .option("--total-completions <uint>", "Number of job tasks to complete (the same as --replicas for a replicated job)", uintFlag("--total-completions"))
    .option("--replicas-max-per-node <uint>", "Maximum number of tasks per node (default 0 = unlimited)", uintFlag("--replicas-max-per-node"))
    .option("-w, --workdir <string>", "Working directory inside the container")
    .option("-u, --user <string>", "Username or UID (format: <name|uid>[:<group|gid>])")
    .option("--hostname <string>", "Container hostname")
    .option("--entrypoint <command>", "Overwrite the default ENTRYPOINT of the image", wordsFlag("--entrypoint"))
    .option("--stop-grace-period <duration>", "Time to wait before force killing a container (ns|us|ms|s|m|h) (default 10s)", nonNegativeDuration("--stop-grace-period"))
    .option("--stop-signal <string>", "Signal to stop the container")
    .option("--limit-cpu <decimal>", "Limit CPUs", cpusFlag("--limit-cpu"))
    .option("--limit-memory <bytes>", "Limit Memory", memoryFlag("--limit-memory"))
    .option("--reserve-cpu <decimal>", "Reserve CPUs", cpusFlag("--reserve-cpu"))
    .option("--reserve-memory <bytes>", "Reserve Memory", memoryFlag("--reserve-memory"))
    .option(
      "--restart-condition <string>",
      'Restart when condition is met ("none", "on-failure", "any") (default "any")',
      choiceFlag("--restart-condition", RESTART_CONDITIONS),
    )
    .option("--restart-delay <duration>", "Delay between restart attempts (ns|us|ms|s|m|h) (default 5s)", nonNegativeDuration("--restart-delay"))
    .option("--restart-max-attempts <uint>", "Maximum number of restarts before giving up", uintFlag("--restart-max-attempts"))
    .option("--restart-window <duration>", "Window used to evaluate the restart policy (ns|us|ms|s|m|h)", nonNegativeDuration("--restart-window"))
    .option("--health-cmd <string>", "Command to run to check health")
    .option("--health-interval <duration>", "Time between running the check (ms|s|m|h)", nonNegativeDuration("--health-interval"))
    .option("--health-timeout <duration>", "Maximum time to allow one check to run (ms|s|m|h)", nonNegativeDuration("--health-timeout"))
    .option("--health-retries <int>", "Consecutive failures needed to report unhealthy", uintFlag("--health-retries"))
    .option(
      "--health-start-period <duration>",
      "Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)",
      nonNegativeDuration("--health-start-period"),
    )
    .option("--no-healthcheck", "Disable any container-specified HEALTHCHECK");
}

/** The container of a spec's task template (created empty if the template has no runtime yet). */
export function containerOf(spec: ServiceSpec): ContainerSpec {
  spec.task ??= TaskSpec.fromPartial({});
  const rt = spec.task.runtime;
  if (rt === undefined) {
    const container = ContainerSpec.fromPartial({});
    spec.task.runtime = { $case: "container", container };
    return container;
  }
  if (rt.$case !== "container") throw new CliError(`the service runs a ${rt.$case} runtime, not a container`);
  return rt.container;
}

const MODE_WORDS = { replicated: "replicated", global: "global", replicatedJob: "replicated-job", globalJob: "global-job" } as const;

/** Applies --replicas, --max-concurrent, --total-completions and --replicas-max-per-node to the spec's mode. */
function applyModeFlags(spec: ServiceSpec, f: SpecFlags): void {
  const mode = spec.mode;
  const word = mode ? MODE_WORDS[mode.$case] : "unset";
  const refuse = (flag: string, allowed: string) => new CliError(`${flag} can only be used with ${allowed} mode (the service is ${word})`);
  if (f.replicas !== undefined) {
    if (mode?.$case === "replicated") mode.replicated.replicas = f.replicas;
    else if (mode?.$case === "replicatedJob") {
      if (f.totalCompletions !== undefined) throw new CliError("--replicas and --total-completions both set a replicated job's total completions: give one");
      mode.replicatedJob.totalCompletions = f.replicas;
    } else throw refuse("replicas", "replicated or replicated-job");
  }
  if (f.maxConcurrent !== undefined || f.totalCompletions !== undefined) {
    if (mode?.$case !== "replicatedJob") throw refuse(f.maxConcurrent !== undefined ? "max-concurrent" : "total-completions", "replicated-job");
    if (f.maxConcurrent !== undefined) mode.replicatedJob.maxConcurrent = f.maxConcurrent;
    if (f.totalCompletions !== undefined) mode.replicatedJob.totalCompletions = f.totalCompletions;
  }
  if (f.replicasMaxPerNode !== undefined) {
    if (mode?.$case !== "replicated" && mode?.$case !== "replicatedJob") throw refuse("replicas-max-per-node", "replicated or replicated-job");
    const task = spec.task!;
    task.placement = Placement.fromPartial({ ...task.placement, maxReplicas: f.replicasMaxPerNode });
  }
}

function withResources(current: Resources | undefined, nanoCpus: number | undefined, memoryBytes: number | undefined): Resources | undefined {
  if (nanoCpus === undefined && memoryBytes === undefined) return current;
  return {
    nanoCpus: nanoCpus ?? current?.nanoCpus ?? 0,
    memoryBytes: memoryBytes ?? current?.memoryBytes ?? 0,
    generic: current?.generic ?? [],
  };
}

function applyResources(spec: ServiceSpec, f: SpecFlags): void {
  if ([f.limitCpu, f.limitMemory, f.reserveCpu, f.reserveMemory].every((v) => v === undefined)) return;
  const task = spec.task!;
  const current = task.resources;
  task.resources = ResourceRequirements.fromPartial({
    ...current,
    limits: withResources(current?.limits, f.limitCpu, f.limitMemory),
    reservations: withResources(current?.reservations, f.reserveCpu, f.reserveMemory),
  });
}

function applyRestartPolicy(spec: ServiceSpec, f: SpecFlags): void {
  if ([f.restartCondition, f.restartDelay, f.restartMaxAttempts, f.restartWindow].every((v) => v === undefined)) return;
  const task = spec.task!;
  const next = RestartPolicy.fromPartial({ ...task.restart });
  if (f.restartCondition !== undefined) next.condition = f.restartCondition;
  if (f.restartDelay !== undefined) next.delayMs = f.restartDelay;
  if (f.restartMaxAttempts !== undefined) next.maxAttempts = f.restartMaxAttempts;
  if (f.restartWindow !== undefined) next.windowMs = f.restartWindow;
  task.restart = next;
}

function applyHealthcheck(container: ContainerSpec, f: SpecFlags): void {
  const given = [f.healthCmd, f.healthInterval, f.healthTimeout, f.healthRetries, f.healthStartPeriod].some((v) => v !== undefined);
  if (f.healthcheck === false) {
    if (given) throw new CliError("--no-healthcheck conflicts with --health-* options");
    container.healthcheck = HealthConfig.fromPartial({ test: ["NONE"] });
    return;
  }
  if (!given) return;
  const current = container.healthcheck;
  const next = HealthConfig.fromPartial(current?.test[0] === "NONE" ? {} : { ...current });
  if (f.healthCmd !== undefined) next.test = f.healthCmd === "" ? [] : ["CMD-SHELL", f.healthCmd];
  if (f.healthInterval !== undefined) next.intervalMs = f.healthInterval;
  if (f.healthTimeout !== undefined) next.timeoutMs = f.healthTimeout;
  if (f.healthRetries !== undefined) next.retries = f.healthRetries;
  if (f.healthStartPeriod !== undefined) next.startPeriodMs = f.healthStartPeriod;
  container.healthcheck = next;
}

/** Writes the given shared flags onto `spec` (its task template must run a container). */
export function applySpecFlags(spec: ServiceSpec, f: SpecFlags): void {
  const container = containerOf(spec);
  applyModeFlags(spec, f);
  if (f.workdir !== undefined) container.dir = f.workdir;
  if (f.user !== undefined) container.user = f.user;
  if (f.hostname !== undefined) container.hostname = f.hostname;
  if (f.entrypoint !== undefined) container.command = f.entrypoint;
  if (f.stopGracePeriod !== undefined) container.stopGracePeriodMs = f.stopGracePeriod;
  if (f.stopSignal !== undefined) container.stopSignal = f.stopSignal;
  applyHealthcheck(container, f);
  applyResources(spec, f);
  applyRestartPolicy(spec, f);
  applyUpdateConfigFlags(spec, f);
}
