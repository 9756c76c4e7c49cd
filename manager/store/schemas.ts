// How each kind of the object model is named and indexed in the store.
import type { Config, Cluster, Network, Node, Secret, Service, Task } from "../../proto/gen/objects.js";
import type { Annotations } from "../../proto/gen/types.js";
import type { TableSchema } from "./table.js";
import type { StoreObject } from "./types.js";

function labels(a: Annotations | undefined): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(a?.labels ?? {})) out.push(k, `${k}=${v}`);
  return out;
}

const as = <T>(o: StoreObject): T => o as unknown as T;

/** Label index keys: "key" and "key=value" for each label. */
export const LABEL_INDEX = "label";

export const SCHEMAS: TableSchema[] = [
  {
    kind: "node",
    // Node names (hostnames) need not be unique, as in docker: found through the "name" index.
    indexes: {
      name: (o) => {
        const n = as<Node>(o);
        const name = n.spec?.annotations?.name || n.description?.hostname;
        return name ? [name] : [];
      },
      role: (o) => [String(as<Node>(o).role)],
      [LABEL_INDEX]: (o) => labels(as<Node>(o).spec?.annotations),
    },
  },
  {
    kind: "service",
    name: (o) => as<Service>(o).spec?.annotations?.name,
    indexes: {
      [LABEL_INDEX]: (o) => labels(as<Service>(o).spec?.annotations),
      secret: (o) => {
        const rt = as<Service>(o).spec?.task?.runtime;
        return rt?.$case === "container" ? rt.container.secrets.map((s) => s.secretId) : [];
      },
      config: (o) => {
        const rt = as<Service>(o).spec?.task?.runtime;
        return rt?.$case === "container" ? rt.container.configs.map((c) => c.configId) : [];
      },
      network: (o) => (as<Service>(o).spec?.task?.networks ?? []).map((n) => n.target),
    },
  },
  {
    kind: "task",
    indexes: {
      service: (o) => (as<Task>(o).serviceId ? [as<Task>(o).serviceId] : []),
      node: (o) => (as<Task>(o).nodeId ? [as<Task>(o).nodeId] : []),
      slot: (o) => {
        const t = as<Task>(o);
        return t.serviceId && t.slot ? [`${t.serviceId}/${t.slot}`] : [];
      },
      desiredState: (o) => [String(as<Task>(o).desiredState)],
      [LABEL_INDEX]: (o) => labels(as<Task>(o).annotations),
    },
  },
  {
    kind: "network",
    name: (o) => as<Network>(o).spec?.annotations?.name,
    indexes: { [LABEL_INDEX]: (o) => labels(as<Network>(o).spec?.annotations) },
  },
  {
    kind: "secret",
    name: (o) => as<Secret>(o).spec?.annotations?.name,
    indexes: { [LABEL_INDEX]: (o) => labels(as<Secret>(o).spec?.annotations) },
  },
  {
    kind: "config",
    name: (o) => as<Config>(o).spec?.annotations?.name,
    indexes: { [LABEL_INDEX]: (o) => labels(as<Config>(o).spec?.annotations) },
  },
  {
    kind: "cluster",
    name: (o) => as<Cluster>(o).spec?.annotations?.name,
  },
];

/** Sets meta times from the proposer's clock (never the applier's, so every manager stores the same). */
export function stampMeta(o: StoreObject, op: "create" | "update" | "remove", nowMs: number): void {
  const meta = (o.meta ?? {}) as { createdAtUnixMs?: number; updatedAtUnixMs?: number };
  if (op === "create") meta.createdAtUnixMs = nowMs;
  meta.updatedAtUnixMs = nowMs;
  o.meta = meta as StoreObject["meta"];
}
