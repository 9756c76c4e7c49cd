import { describe, expect, it } from "vitest";
import { Service, Task } from "../../../proto/gen/objects.js";
import type { ContainerSpec } from "../../../proto/gen/specs.js";
import { PublishMode, TaskState as S } from "../../../proto/gen/types.js";
import { makeNode, makeService, makeTask, replicated } from "../test-support.js";
import { isTaskDirty } from "./dirty.js";

const base = makeService({ id: "s", mode: replicated(1), specVersion: 2 });
const clean = makeTask({ id: "t", specVersion: 1, node: "n", state: S.TASK_STATE_RUNNING });
const eastNode = makeNode({ id: "n", labels: { zone: "east" } });

/** The service with its task template changed by `fn`. */
function serviceWith(fn: (s: Service) => void): Service {
  const s = Service.fromPartial(base);
  fn(s);
  return s;
}
const withTask = (fn: (t: Task) => void, from = clean): Task => {
  const t = Task.fromPartial(from);
  fn(t);
  return t;
};
/** The container spec of a service's task template. */
const container = (s: Service): ContainerSpec => (s.spec!.task!.runtime as { $case: "container"; container: ContainerSpec }).container;

describe("isTaskDirty", () => {
  it.each([
    ["same spec, older version", base, clean, eastNode, false],
    ["image changed", serviceWith((s) => (container(s).image = "nginx")), clean, eastNode, true],
    ["image changed, same spec version", serviceWith((s) => ((container(s).image = "nginx"), (s.specVersion = { index: 1 }))), clean, eastNode, false],
    ["force_update bumped", serviceWith((s) => (s.spec!.task!.forceUpdate = 1)), clean, eastNode, true],
    ["placement only, the node still satisfies it", serviceWith((s) => (s.spec!.task!.placement = { constraints: ["node.labels.zone==east"], preferences: [], platforms: [], maxReplicas: 0 })), clean, eastNode, false],
    ["placement only, the node no longer satisfies it", serviceWith((s) => (s.spec!.task!.placement = { constraints: ["node.labels.zone==west"], preferences: [], platforms: [], maxReplicas: 0 })), clean, eastNode, true],
    ["placement only, task not on a node yet", serviceWith((s) => (s.spec!.task!.placement = { constraints: ["node.labels.zone==east"], preferences: [], platforms: [], maxReplicas: 0 })), clean, undefined, true],
    ["pull options only, image already pulled", serviceWith((s) => (container(s).pullOptions = { registryAuth: "x" })), clean, eastNode, false],
    ["pull options only, not pulled yet", serviceWith((s) => (container(s).pullOptions = { registryAuth: "x" })), withTask((t) => (t.status!.state = S.TASK_STATE_PENDING)), eastNode, true],
    [
      "published ports changed",
      serviceWith((s) => (s.spec!.endpoint = { mode: 0, ports: [{ name: "", protocol: 0, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_HOST }] })),
      withTask((t) => (t.endpoint = { spec: { mode: 0, ports: [] }, ports: [], virtualIps: [] })),
      eastNode,
      true,
    ],
  ])("%s → %s", (_, service, task, node, want) => {
    expect(isTaskDirty(service, task, node)).toBe(want);
  });
});
