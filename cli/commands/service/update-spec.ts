// The ServiceSpec `service update` sends: a copy of the current spec with the given flags applied
// and nothing else changed — the image and args, the -add/-rm lists (spec-edits.ts), the flags
// shared with create (spec-flags.ts), and --force, which bumps the task template's force_update
// so that every task is replaced even when nothing else changed.
import { ServiceSpec } from "../../../proto/gen/specs.js";
import { EndpointSpec, Placement, type Mount, type PlacementPreference, type PortConfig } from "../../../proto/gen/types.js";
import { withValueFromEnv } from "./env-flags.js";
import { editConstraints, editEnv, editLabels, editMounts, editPorts, editPreferences } from "./spec-edits.js";
import { applySpecFlags, containerOf, type SpecFlags } from "./spec-flags.js";

/** The flags of `service update` (shared ones included). */
export interface UpdateFlags extends SpecFlags {
  image?: string;
  args?: string[];
  force?: boolean;
  rollback?: boolean;
  detach?: boolean;
  quiet?: boolean;
  envAdd?: string[];
  envRm?: string[];
  labelAdd?: string[];
  labelRm?: string[];
  containerLabelAdd?: string[];
  containerLabelRm?: string[];
  constraintAdd?: string[];
  constraintRm?: string[];
  placementPrefAdd?: PlacementPreference[];
  placementPrefRm?: PlacementPreference[];
  mountAdd?: Mount[];
  mountRm?: string[];
  publishAdd?: PortConfig[];
  publishRm?: PortConfig[];
}

const given = (...lists: (readonly unknown[] | undefined)[]) => lists.some((l) => l !== undefined);

/** Applies the -add/-rm flags to `spec`. */
function applyListFlags(spec: ServiceSpec, f: UpdateFlags, env: Readonly<Record<string, string | undefined>>): void {
  const container = containerOf(spec);
  const task = spec.task!;
  if (given(f.labelAdd, f.labelRm)) {
    spec.annotations = { name: spec.annotations?.name ?? "", labels: editLabels(spec.annotations?.labels ?? {}, f.labelRm ?? [], f.labelAdd ?? []) };
  }
  if (given(f.containerLabelAdd, f.containerLabelRm)) {
    container.labels = editLabels(container.labels, f.containerLabelRm ?? [], f.containerLabelAdd ?? []);
  }
  if (given(f.envAdd, f.envRm)) {
    container.env = editEnv(container.env, f.envRm ?? [], (f.envAdd ?? []).map((v) => withValueFromEnv(v, env)));
  }
  if (given(f.mountAdd, f.mountRm)) container.mounts = editMounts(container.mounts, f.mountRm ?? [], f.mountAdd ?? []);
  if (given(f.constraintAdd, f.constraintRm, f.placementPrefAdd, f.placementPrefRm)) {
    const placement = Placement.fromPartial(task.placement ?? {});
    placement.constraints = editConstraints(placement.constraints, f.constraintRm ?? [], f.constraintAdd ?? []);
    placement.preferences = editPreferences(placement.preferences, f.placementPrefRm ?? [], f.placementPrefAdd ?? []);
    task.placement = placement;
  }
  if (given(f.publishAdd, f.publishRm)) {
    const endpoint = EndpointSpec.fromPartial(spec.endpoint ?? {});
    endpoint.ports = editPorts(endpoint.ports, f.publishRm ?? [], f.publishAdd ?? []);
    spec.endpoint = endpoint;
  }
}

/**
 * The spec for `service update` of a service whose spec is `current` (left unchanged); `env` is
 * the CLI's environment (for `--env-add NAME`). Throws CliError for flags that do not fit the
 * service (--replicas of a global service, a service that does not run a container).
 */
export function updateServiceSpec(current: ServiceSpec | undefined, flags: UpdateFlags, env: Readonly<Record<string, string | undefined>>): ServiceSpec {
  const spec = ServiceSpec.fromPartial(current ?? {});
  const container = containerOf(spec);
  if (flags.image !== undefined) container.image = flags.image;
  if (flags.args !== undefined) container.args = flags.args;
  applyListFlags(spec, flags, env);
  applySpecFlags(spec, flags);
  if (flags.force) spec.task!.forceUpdate += 1;
  return spec;
}
