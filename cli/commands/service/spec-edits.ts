// What the -add/-rm flags of `service update` do to the lists and maps of the current spec. In
// every case the removals apply first, then the additions. An added item that stands for one
// already there (the same label key, variable name, constraint, spread attribute, mount target or
// published port) replaces it where it is; anything else is appended, so an update changes no more
// than it was asked to. Removing what is not there does nothing, as in docker.
import type { Mount, PlacementPreference, PortConfig } from "../../../proto/gen/types.js";
import { splitKeyValue } from "../../flags.js";
import { nameOf } from "./env-flags.js";
import { constraintKey } from "./placement-flags.js";

/** `current` without the removed items, then each added item in place of its match or at the end. */
function edit<T>(current: readonly T[], removed: (item: T) => boolean, added: readonly T[], same: (a: T, b: T) => boolean): T[] {
  const next = current.filter((item) => !removed(item));
  for (const item of added) {
    const at = next.findIndex((existing) => same(existing, item));
    if (at === -1) next.push(item);
    else next[at] = item;
  }
  return next;
}

/** Service or container labels: keys removed, then `key=value` (or `key`) entries set. */
export function editLabels(current: Readonly<Record<string, string>>, rm: readonly string[], add: readonly string[]): Record<string, string> {
  const next = Object.fromEntries(Object.entries(current).filter(([key]) => !rm.includes(key)));
  for (const entry of add) {
    const [key, value] = splitKeyValue(entry);
    next[key] = value;
  }
  return next;
}

/** Env entries: variables removed by name, then `NAME=value` entries set. */
export function editEnv(current: readonly string[], rm: readonly string[], add: readonly string[]): string[] {
  return edit(current, (e) => rm.includes(nameOf(e)), add, (a, b) => nameOf(a) === nameOf(b));
}

/** Constraints, compared without their optional blanks. */
export function editConstraints(current: readonly string[], rm: readonly string[], add: readonly string[]): string[] {
  const removed = new Set(rm.map(constraintKey));
  return edit(current, (c) => removed.has(constraintKey(c)), add, (a, b) => constraintKey(a) === constraintKey(b));
}

const spreadOf = (p: PlacementPreference) => p.spread?.spreadDescriptor ?? "";

/** Placement preferences, by the attribute they spread over. */
export function editPreferences(current: readonly PlacementPreference[], rm: readonly PlacementPreference[], add: readonly PlacementPreference[]): PlacementPreference[] {
  const removed = new Set(rm.map(spreadOf));
  return edit(current, (p) => removed.has(spreadOf(p)), add, (a, b) => spreadOf(a) === spreadOf(b));
}

/** Mounts, by target path. */
export function editMounts(current: readonly Mount[], rm: readonly string[], add: readonly Mount[]): Mount[] {
  return edit(current, (m) => rm.includes(m.target), add, (a, b) => a.target === b.target);
}

const samePort = (a: PortConfig, b: PortConfig) =>
  a.publishedPort === b.publishedPort && a.targetPort === b.targetPort && a.protocol === b.protocol && a.publishMode === b.publishMode;

/** Published ports: removed by target port, protocol and mode (docker's --publish-rm), then added unless already there. */
export function editPorts(current: readonly PortConfig[], rm: readonly PortConfig[], add: readonly PortConfig[]): PortConfig[] {
  const removed = (p: PortConfig) => rm.some((r) => r.targetPort === p.targetPort && r.protocol === p.protocol && r.publishMode === p.publishMode);
  return edit(current, removed, add, samePort);
}
