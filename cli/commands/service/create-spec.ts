// The ServiceSpec `service create` sends: the mode, name, labels, image and command, env, mounts,
// placement and published ports from the create-only flags, then the shared flags (spec-flags.ts).
// Only what the user gave is set; the manager fills in its defaults. The exceptions are docker's:
// a replicated service without --replicas gets 1, and a replicated job's --max-concurrent
// defaults to its number of completions.
import { ServiceSpec } from "../../../proto/gen/specs.js";
import { Placement, type Mount, type PlacementPreference, type PortConfig } from "../../../proto/gen/types.js";
import { splitKeyValue } from "../../flags.js";
import { mergeEnv } from "./env-flags.js";
import { applySpecFlags, type SpecFlags } from "./spec-flags.js";

/** docker's service modes. */
export const SERVICE_MODES = {
  replicated: "replicated",
  global: "global",
  "replicated-job": "replicatedJob",
  "global-job": "globalJob",
} as const;

/** The flags of `service create` (shared ones included). */
export interface CreateFlags extends SpecFlags {
  name?: string;
  mode: (typeof SERVICE_MODES)[keyof typeof SERVICE_MODES];
  env?: string[];
  envFile?: string[];
  label?: string[];
  containerLabel?: string[];
  constraint?: string[];
  placementPref?: PlacementPreference[];
  mount?: Mount[];
  publish?: PortConfig[];
  detach?: boolean;
  quiet?: boolean;
}

function labelMap(entries: readonly string[] | undefined): Record<string, string> {
  return Object.fromEntries((entries ?? []).map(splitKeyValue));
}

function baseMode(mode: CreateFlags["mode"]): ServiceSpec["mode"] {
  switch (mode) {
    case "replicated":
      return { $case: "replicated", replicated: { replicas: 1 } };
    case "global":
      return { $case: "global", global: {} };
    case "replicatedJob":
      return { $case: "replicatedJob", replicatedJob: { maxConcurrent: 0, totalCompletions: 0 } };
    case "globalJob":
      return { $case: "globalJob", globalJob: {} };
  }
}

/**
 * The spec for `service create IMAGE [ARG...]`; `env` is the CLI's environment (for `-e NAME`).
 * Throws CliError / FlagValueError for flags that do not fit together or files that cannot be read.
 */
export function createServiceSpec(image: string, args: readonly string[], flags: CreateFlags, env: Readonly<Record<string, string | undefined>>): ServiceSpec {
  const constraints = flags.constraint ?? [];
  const preferences = flags.placementPref ?? [];
  const ports = flags.publish ?? [];
  const spec = ServiceSpec.fromPartial({
    annotations: { name: flags.name ?? "", labels: labelMap(flags.label) },
    task: {
      runtime: {
        $case: "container",
        container: {
          image,
          args: [...args],
          env: mergeEnv(flags.envFile ?? [], flags.env ?? [], env),
          labels: labelMap(flags.containerLabel),
          mounts: flags.mount ?? [],
        },
      },
      placement: constraints.length > 0 || preferences.length > 0 ? Placement.fromPartial({ constraints, preferences }) : undefined,
    },
    endpoint: ports.length > 0 ? { ports } : undefined,
  });
  spec.mode = baseMode(flags.mode);
  applySpecFlags(spec, flags);
  if (spec.mode?.$case === "replicatedJob" && flags.maxConcurrent === undefined) {
    spec.mode.replicatedJob.maxConcurrent = spec.mode.replicatedJob.totalCompletions;
  }
  return spec;
}
