// The Control API over a real store (protobuf codec, production schemas, local proposer).
import { describe, expect, it } from "vitest";
import { WatchRequest, type WatchMessage } from "../../proto/gen/control.js";
import { Cluster, NetworkAttachment, Node, Task, type Service } from "../../proto/gen/objects.js";
import { ServiceSpec, type ContainerSpec } from "../../proto/gen/specs.js";
import { StoreActionKind } from "../../proto/gen/store.js";
import {
  NodeAvailability,
  NodeMembership,
  NodeRole,
  NodeState,
  PublishMode,
  TaskState,
  UpdateState,
} from "../../proto/gen/types.js";
import type { MemoryStore, StoreObject } from "../store/index.js";
import { ControlService, newObjectId } from "./control-service.js";
import { caught, expectError, newStore } from "./test-support.js";

const obj = (o: object): StoreObject => o as unknown as StoreObject;

/** A service with a fixed id sequence: ids given first, then id001, id002, … */
function setup(...ids: string[]): { store: MemoryStore; api: ControlService } {
  const store = newStore(5_000);
  let n = 0;
  const queue = [...ids];
  const api = new ControlService({ store, newId: () => queue.shift() ?? `id${String(++n).padStart(3, "0")}`, now: () => 7_000 });
  return { store, api };
}

function spec(name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return ServiceSpec.fromPartial({
    annotations: { name },
    mode: { $case: "replicated", replicated: { replicas: 2 } },
    task: { runtime: { $case: "container", container: { image: "nginx:1.27" } } },
    ...extra,
  });
}

function withSecrets(name: string, secrets: string[], networks: string[] = []): ServiceSpec {
  const s = spec(name);
  containerOf(s).secrets = secrets.map((n) => ({ secretId: "", secretName: n, file: { name: n, uid: "", gid: "" } }));
  s.task!.networks = networks.map((target) => ({ target, aliases: [], addresses: [], driverAttachmentOpts: {} }));
  return s;
}

function containerOf(s: ServiceSpec): ContainerSpec {
  const rt = s.task!.runtime!;
  if (rt.$case !== "container") throw new Error("not a container");
  return rt.container;
}

const version = (o: { meta?: { version?: { index: number } | undefined } | undefined } | undefined) => o!.meta!.version!;

function task(id: string, serviceId: string, extra: Partial<Task> = {}): StoreObject {
  return obj(
    Task.fromPartial({
      id,
      serviceId,
      slot: 1,
      annotations: { name: `${serviceId}.1.${id}`, labels: {} },
      desiredState: TaskState.TASK_STATE_RUNNING,
      status: { state: TaskState.TASK_STATE_RUNNING },
      ...extra,
    }),
  );
}

function node(id: string, hostname: string, extra: Partial<Node> = {}): StoreObject {
  return obj(
    Node.fromPartial({
      id,
      description: { hostname },
      status: { state: NodeState.NODE_STATE_READY },
      spec: { membership: NodeMembership.NODE_MEMBERSHIP_ACCEPTED },
      ...extra,
    }),
  );
}

describe("services", () => {
  it("creates, gets (by id, prefix, name), lists, updates and removes a service", async () => {
    const { store, api } = setup("svcabc123");
    const { service } = await api.createService({ spec: spec("web") });
    expect(service).toMatchObject({ id: "svcabc123", spec: { annotations: { name: "web" } }, specVersion: { index: 0 } });
    expect(service!.meta).toMatchObject({ version: { index: 1 }, createdAtUnixMs: 5000 });
    for (const ref of ["svcabc123", "svcab", "web"]) expect((await api.getService({ serviceId: ref })).service!.id).toBe("svcabc123");
    expect((await api.listServices({ filters: undefined })).services.map((s) => s.id)).toEqual(["svcabc123"]);

    const next = spec("web", { mode: { $case: "replicated", replicated: { replicas: 5 } } });
    const updated = (await api.updateService({ serviceId: "web", serviceVersion: version(service), spec: next, rollback: false })).service!;
    expect(updated.spec!.mode).toEqual({ $case: "replicated", replicated: { replicas: 5 } });
    expect(updated.previousSpec!.mode).toEqual({ $case: "replicated", replicated: { replicas: 2 } });
    expect(updated.specVersion).toEqual({ index: 1 });
    expect(updated.previousSpecVersion).toEqual({ index: 0 });
    expect(version(updated)).toEqual({ index: 2 });

    await api.removeService({ serviceId: "svcab" });
    await expectError(() => api.getService({ serviceId: "web" }), "NOT_FOUND", "service web not found");
    expect(store.view((r) => r.count("service"))).toBe(0);
  });

  it("refuses an ambiguous id prefix and an empty reference", async () => {
    const { api } = setup("abc123", "abd456");
    await api.createService({ spec: spec("web") });
    await api.createService({ spec: spec("db") });
    expect((await api.getService({ serviceId: "abd" })).service!.id).toBe("abd456");
    await expectError(() => api.getService({ serviceId: "ab" }), "INVALID_ARGUMENT", `service "ab" is ambiguous: it prefixes 2 ids (abc123, abd456…)`);
    await expectError(() => api.removeService({ serviceId: "" }), "INVALID_ARGUMENT", `invalid service_id "": an id, a unique id prefix or a name is required`);
  });

  it("refuses an update based on a stale version and writes nothing", async () => {
    const { store, api } = setup("s1");
    const { service } = await api.createService({ spec: spec("web") });
    await api.updateService({ serviceId: "s1", serviceVersion: version(service), spec: spec("web", { endpoint: { mode: 0, ports: [] } }), rollback: false });
    const before = store.version;
    await expectError(
      () => api.updateService({ serviceId: "s1", serviceVersion: version(service), spec: spec("web"), rollback: false }),
      "FAILED_PRECONDITION",
      `update out of sequence: service "web" (s1) is at version 2, but the request was based on version 1; read it again and retry`,
    );
    await expectError(
      () => api.updateService({ serviceId: "s1", serviceVersion: undefined, spec: spec("web"), rollback: false }),
      "INVALID_ARGUMENT",
      "invalid service_version: the version read with the object is required, so that a concurrent change is not overwritten",
    );
    expect(store.version).toBe(before);
  });

  it("refuses a duplicate name and an invalid spec, writing nothing", async () => {
    const { store, api } = setup("s1", "s2", "s3");
    await api.createService({ spec: spec("web") });
    const before = store.version;
    await expectError(() => api.createService({ spec: spec("web") }), "ALREADY_EXISTS", `service name "web" is already in use by service s1`);
    await expectError(() => api.createService({ spec: spec("-x") }), "INVALID_ARGUMENT", expect.stringContaining(`invalid name "-x"`) as unknown as string);
    await expectError(
      () => api.updateService({ serviceId: "web", serviceVersion: { index: 1 }, spec: spec("web", { mode: { $case: "global", global: {} } }), rollback: false }),
      "INVALID_ARGUMENT",
      `invalid mode "global": service "web" is replicated and its mode cannot change; remove it and create it again`,
    );
    expect(store.version).toBe(before);
    expect(store.view((r) => r.count("service"))).toBe(1);
  });

  it("rolls back by swapping spec and previous spec, and refuses a rollback with no previous spec", async () => {
    const { api } = setup("s1");
    const v1 = (await api.createService({ spec: spec("web") })).service!;
    await expectError(
      () => api.updateService({ serviceId: "web", serviceVersion: version(v1), spec: undefined, rollback: true }),
      "FAILED_PRECONDITION",
      `service "web" (s1) has no previous spec to roll back to`,
    );
    const v2 = (await api.updateService({ serviceId: "web", serviceVersion: version(v1), spec: spec("web", { mode: { $case: "replicated", replicated: { replicas: 9 } } }), rollback: false })).service!;
    const back = (await api.updateService({ serviceId: "web", serviceVersion: version(v2), spec: undefined, rollback: true })).service!;
    expect(back.spec).toEqual(v2.previousSpec);
    expect(back.previousSpec).toEqual(v2.spec);
    expect(back.specVersion).toEqual(v2.previousSpecVersion);
    expect(back.previousSpecVersion).toEqual(v2.specVersion);
    expect(back.updateStatus).toEqual({ state: UpdateState.UPDATE_STATE_ROLLBACK_STARTED, startedAtUnixMs: 7000, completedAtUnixMs: 0, message: "manually requested rollback" });
  });

  it("starts a new job iteration on every update of a job", async () => {
    const { api } = setup("j1");
    const job = spec("batch", { mode: { $case: "replicatedJob", replicatedJob: { maxConcurrent: 1, totalCompletions: 3 } } });
    const v1 = (await api.createService({ spec: job })).service!;
    expect(v1.jobStatus).toEqual({ jobIteration: { index: 0 }, lastExecutionUnixMs: 7000 });
    const v2 = (await api.updateService({ serviceId: "batch", serviceVersion: version(v1), spec: job, rollback: false })).service!;
    expect(v2.jobStatus!.jobIteration).toEqual({ index: 1 });
  });

  it("marks the tasks of a removed service for removal in the same transaction", async () => {
    const { store, api } = setup("s1");
    await api.createService({ spec: spec("web") });
    await store.update((tx) => {
      tx.create("task", task("t1", "s1"));
      tx.create("task", task("t2", "s1", { desiredState: TaskState.TASK_STATE_SHUTDOWN }));
      tx.create("task", task("t3", "s1", { desiredState: TaskState.TASK_STATE_REMOVE }));
      tx.create("task", task("t4", "other"));
    });
    await api.removeService({ serviceId: "web" });
    const tasks = (await api.listTasks({ filters: undefined })).tasks;
    expect(tasks.map((t) => [t.id, t.desiredState, version(t).index])).toEqual([
      ["t1", TaskState.TASK_STATE_REMOVE, 3],
      ["t2", TaskState.TASK_STATE_REMOVE, 3],
      ["t3", TaskState.TASK_STATE_REMOVE, 2],
      ["t4", TaskState.TASK_STATE_RUNNING, 2],
    ]);
    expect(store.version).toBe(3);
  });

  it("marks the tasks that do not fit in the removal's transaction in bounded batches after it", async () => {
    const { store, api } = setup("s1");
    await api.createService({ spec: spec("web") });
    const big = { annotations: { name: "web", labels: { pad: "x".repeat(20_000) } } };
    await store.update((tx) => {
      for (let i = 0; i < 30; i++) tx.create("task", task(`t${String(i).padStart(2, "0")}`, "s1", big));
    });
    await api.removeService({ serviceId: "web" });
    const states = (await api.listTasks({ filters: undefined })).tasks.map((t) => t.desiredState);
    expect(states).toEqual(Array(30).fill(TaskState.TASK_STATE_REMOVE));
    // 30 tasks of ~20 KB: the removal's transaction holds 12, the rest follow in 2 more.
    expect(store.version).toBe(5);
  });

  it("refuses a service over the object size limit", async () => {
    const { store, api } = setup("s1");
    const huge = spec("big");
    containerOf(huge).env = [`X=${"y".repeat(1024 * 1024)}`];
    const e = await caught(() => api.createService({ spec: huge }));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.message).toMatch(/^service "big" is too large: 10486\d\d bytes encoded, over the limit of 1048576 bytes \(1 MiB\); nothing was written$/);
    expect(store.version).toBe(0);
  });
});

describe("secrets and configs", () => {
  it("never return a secret's value, and keep it across a label update", async () => {
    const { store, api } = setup("sec1");
    const created = (await api.createSecret({ spec: { annotations: { name: "pw", labels: {} }, data: Buffer.from("hunter2"), templating: undefined, driver: undefined } })).secret!;
    expect(created.spec!.data.length).toBe(0);
    expect((await api.getSecret({ secretId: "pw" })).secret!.spec!.data.length).toBe(0);
    expect((await api.listSecrets({ filters: undefined })).secrets.map((s) => s.spec!.data.length)).toEqual([0]);
    const updated = (await api.updateSecret({ secretId: "pw", secretVersion: version(created), spec: { ...created.spec!, annotations: { name: "pw", labels: { a: "b" } } } })).secret!;
    expect(updated.spec!.annotations!.labels).toEqual({ a: "b" });
    expect(updated.spec!.data.length).toBe(0);
    const kept = store.view((r) => r.get("secret", "sec1")) as unknown as { spec: { data: Buffer } };
    expect(kept.spec.data.toString()).toBe("hunter2");
    await expectError(
      () => api.updateSecret({ secretId: "pw", secretVersion: version(updated), spec: { ...updated.spec!, data: Buffer.from("new") } }),
      "INVALID_ARGUMENT",
      "invalid data: only the labels of a secret can be updated; remove the secret and create it again to change anything else",
    );
  });

  it("refuses a secret value over 500 KiB", async () => {
    const { store, api } = setup();
    await expectError(
      () => api.createSecret({ spec: { annotations: { name: "big", labels: {} }, data: Buffer.alloc(512_001), templating: undefined, driver: undefined } }),
      "INVALID_ARGUMENT",
      "invalid data: secret data is 512001 bytes; the limit is 512000 bytes (500 KiB)",
    );
    expect(store.version).toBe(0);
  });

  it("resolves references by name, and refuses removing a secret or config a service uses", async () => {
    const { api } = setup("sec1", "cfg1", "s1");
    await api.createSecret({ spec: { annotations: { name: "pw", labels: {} }, data: Buffer.from("x"), templating: undefined, driver: undefined } });
    await api.createConfig({ spec: { annotations: { name: "app.conf", labels: {} }, data: Buffer.from("x"), templating: undefined } });
    const s = withSecrets("web", ["pw"]);
    containerOf(s).configs = [{ configName: "app.conf", configId: "", file: { name: "/app.conf", uid: "", gid: "" } }];
    const svc = (await api.createService({ spec: s })).service!;
    const c = svc.spec!.task!.runtime as { container: { secrets: { secretId: string; secretName: string }[]; configs: { configId: string }[] } };
    expect(c.container.secrets[0]).toMatchObject({ secretId: "sec1", secretName: "pw" });
    expect(c.container.configs[0]).toMatchObject({ configId: "cfg1" });
    await expectError(() => api.removeSecret({ secretId: "pw" }), "FAILED_PRECONDITION", `secret "pw" (sec1) is in use by service "web" (s1)`);
    await expectError(() => api.removeConfig({ configId: "app.conf" }), "FAILED_PRECONDITION", `config "app.conf" (cfg1) is in use by service "web" (s1)`);
    await api.removeService({ serviceId: "web" });
    await api.removeSecret({ secretId: "pw" });
    await api.removeConfig({ configId: "cfg1" });
    expect((await api.listSecrets({ filters: undefined })).secrets).toEqual([]);
    expect((await api.listConfigs({ filters: undefined })).configs).toEqual([]);
  });

  it("returns a config's value", async () => {
    const { api } = setup("cfg1");
    await api.createConfig({ spec: { annotations: { name: "app.conf", labels: {} }, data: Buffer.from("listen 80;"), templating: undefined } });
    expect((await api.getConfig({ configId: "cfg1" })).config!.spec!.data.toString()).toBe("listen 80;");
  });
});

describe("networks", () => {
  it("stores network references as ids and refuses removing a network in use", async () => {
    const { store, api } = setup("net1", "s1");
    await api.createNetwork({ spec: { ...netSpec("front") } });
    const svc = (await api.createService({ spec: withSecrets("web", [], ["front"]) })).service!;
    expect(svc.spec!.task!.networks[0]!.target).toBe("net1");
    await expectError(() => api.removeNetwork({ networkId: "front" }), "FAILED_PRECONDITION", `network "front" (net1) is in use by service "web" (s1)`);
    await api.removeService({ serviceId: "web" });
    await store.update((tx) => tx.create("task", task("t9", "gone", { networks: [NetworkAttachment.fromPartial({ network: { id: "net1" } })] })));
    await expectError(() => api.removeNetwork({ networkId: "front" }), "FAILED_PRECONDITION", `network "front" (net1) is in use by task "gone.1.t9" (t9)`);
    await store.update((tx) => tx.remove("task", "t9"));
    await api.removeNetwork({ networkId: "front" });
    expect((await api.listNetworks({ filters: undefined })).networks).toEqual([]);
  });

  it("updates labels only, and keeps one ingress network", async () => {
    const { api } = setup("net1", "ing1");
    const net = (await api.createNetwork({ spec: netSpec("front") })).network!;
    const labelled = (await api.updateNetwork({ networkId: "front", networkVersion: version(net), spec: { ...net.spec!, annotations: { name: "front", labels: { x: "y" } } } })).network!;
    expect(labelled.spec!.annotations!.labels).toEqual({ x: "y" });
    await expectError(
      () => api.updateNetwork({ networkId: "front", networkVersion: version(labelled), spec: { ...labelled.spec!, attachable: true } }),
      "INVALID_ARGUMENT",
      "invalid attachable: only the labels of a network can be updated; remove the network and create it again to change anything else",
    );
    await api.createNetwork({ spec: { ...netSpec("ingress"), ingress: true } });
    await expectError(() => api.createNetwork({ spec: { ...netSpec("mesh"), ingress: true } }), "ALREADY_EXISTS", `an ingress network already exists: "ingress" (ing1); there can be only one`);
  });

  it("refuses removing the ingress network while a service publishes through it", async () => {
    const { api } = setup("ing1", "s1");
    await api.createNetwork({ spec: { ...netSpec("ingress"), ingress: true } });
    await api.createService({ spec: spec("web", { endpoint: { mode: 0, ports: [{ name: "", protocol: 0, targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS }] } }) });
    await expectError(
      () => api.removeNetwork({ networkId: "ingress" }),
      "FAILED_PRECONDITION",
      `network "ingress" (ing1) is the ingress network and service "web" (s1) publish ports through it`,
    );
  });
});

function netSpec(name: string) {
  return { annotations: { name, labels: {} }, driverConfig: undefined, ipv6Enabled: false, internal: false, ipam: undefined, attachable: false, ingress: false, scope: 0, configFrom: "" };
}

describe("nodes", () => {
  async function cluster() {
    const s = setup();
    await s.store.update((tx) => {
      tx.create("node", node("m1", "mgr", { role: NodeRole.NODE_ROLE_MANAGER, spec: { annotations: undefined, desiredRole: NodeRole.NODE_ROLE_MANAGER, membership: 1, availability: 0 } }));
      tx.create("node", node("w1", "worker-1", { spec: { annotations: { name: "", labels: { zone: "a" } }, desiredRole: 0, membership: 1, availability: 0 } }));
      tx.create("node", node("w2", "worker-2", { status: { state: NodeState.NODE_STATE_DOWN, message: "", addr: "" } }));
      tx.create("task", task("t1", "s1", { nodeId: "w2" }));
      tx.create("cluster", obj(Cluster.fromPartial({ id: "c1", spec: { annotations: { name: "default" } } })));
    });
    return s;
  }

  it("gets by hostname, lists with filters, and updates the spec only", async () => {
    const { api } = await cluster();
    const w1 = (await api.getNode({ nodeId: "worker-1" })).node!;
    expect(w1.id).toBe("w1");
    expect((await api.listNodes({ filters: { idPrefixes: [], names: [], namePrefixes: ["worker"], labels: [], roles: [], memberships: [] } })).nodes.map((n) => n.id)).toEqual(["w1", "w2"]);
    expect((await api.listNodes({ filters: { idPrefixes: [], names: [], namePrefixes: [], labels: [], roles: [NodeRole.NODE_ROLE_MANAGER], memberships: [] } })).nodes.map((n) => n.id)).toEqual(["m1"]);
    expect((await api.listNodes({ filters: { idPrefixes: [], names: [], namePrefixes: [], labels: ["zone=a"], roles: [], memberships: [] } })).nodes.map((n) => n.id)).toEqual(["w1"]);
    const drained = (await api.updateNode({ nodeId: "w1", nodeVersion: version(w1), spec: { ...w1.spec!, availability: NodeAvailability.NODE_AVAILABILITY_DRAIN } })).node!;
    expect(drained.spec!.availability).toBe(NodeAvailability.NODE_AVAILABILITY_DRAIN);
    expect(drained.status).toEqual(w1.status);
    expect(drained.description).toEqual(w1.description);
  });

  it("refuses demoting the last manager", async () => {
    const { api } = await cluster();
    const m1 = (await api.getNode({ nodeId: "m1" })).node!;
    await expectError(
      () => api.updateNode({ nodeId: "m1", nodeVersion: version(m1), spec: { ...m1.spec!, desiredRole: NodeRole.NODE_ROLE_WORKER } }),
      "FAILED_PRECONDITION",
      `node "mgr" (m1) is the last manager of the cluster and cannot be demoted; promote another node first`,
    );
  });

  it("removes a down worker, orphaning its tasks and refusing its certificate", async () => {
    const { api } = await cluster();
    await expectError(() => api.removeNode({ nodeId: "m1", force: true }), "FAILED_PRECONDITION", `node "mgr" (m1) is a manager: demote it first`);
    await expectError(
      () => api.removeNode({ nodeId: "worker-1", force: false }),
      "FAILED_PRECONDITION",
      `node "worker-1" (w1) is ready, not down, and cannot be removed: stop it first, or remove it with force`,
    );
    await api.removeNode({ nodeId: "worker-2", force: false });
    const t1 = (await api.getTask({ taskId: "t1" })).task!;
    expect(t1.status).toMatchObject({ state: TaskState.TASK_STATE_ORPHANED, timestampUnixMs: 7000, message: "the task's node was removed from the cluster" });
    expect((await api.getCluster({ clusterId: "default" })).cluster!.blacklistedCertificates).toEqual({ w2: { expiresAtUnixMs: 0 } });
    await api.removeNode({ nodeId: "w1", force: true });
    expect((await api.listNodes({ filters: undefined })).nodes.map((n) => n.id)).toEqual(["m1"]);
  });
});

describe("tasks", () => {
  it("lists by service (id or name), node, desired state, label and id prefix, sorted by id", async () => {
    const { store, api } = setup("s1");
    await api.createService({ spec: spec("web") });
    await store.update((tx) => {
      tx.create("node", node("n1", "h1"));
      tx.create("task", task("tb", "s1", { nodeId: "n1", annotations: { name: "web.2", labels: { canary: "yes" } } }));
      tx.create("task", task("ta", "s1", { desiredState: TaskState.TASK_STATE_SHUTDOWN }));
      tx.create("task", task("tc", "gone", { nodeId: "n1" }));
    });
    const ids = async (f: Partial<NonNullable<Parameters<ControlService["listTasks"]>[0]["filters"]>>) =>
      (await api.listTasks({ filters: { idPrefixes: [], names: [], namePrefixes: [], labels: [], serviceIds: [], nodeIds: [], desiredStates: [], ...f } })).tasks.map((t) => t.id);
    expect(await ids({})).toEqual(["ta", "tb", "tc"]);
    expect(await ids({ serviceIds: ["web"] })).toEqual(["ta", "tb"]);
    expect(await ids({ serviceIds: ["gone"] })).toEqual(["tc"]);
    expect(await ids({ nodeIds: ["h1"] })).toEqual(["tb", "tc"]);
    expect(await ids({ serviceIds: ["s1"], nodeIds: ["n1"] })).toEqual(["tb"]);
    expect(await ids({ desiredStates: [TaskState.TASK_STATE_RUNNING] })).toEqual(["tb", "tc"]);
    expect(await ids({ labels: ["canary"] })).toEqual(["tb"]);
    expect(await ids({ labels: ["canary=no"] })).toEqual([]);
    expect(await ids({ idPrefixes: ["tc", "ta"] })).toEqual(["ta", "tc"]);
    expect(await ids({ names: ["web.2"] })).toEqual(["tb"]);
    await expectError(() => ids({ labels: ["=yes"] }), "INVALID_ARGUMENT", `invalid filters.labels[0] "=yes": must be KEY or KEY=VALUE`);
    await api.removeTask({ taskId: "tc" });
    expect(await ids({})).toEqual(["ta", "tb"]);
  });

  it("knows a task without a name of its own as SERVICE.SLOT.TASKID (SERVICE.NODEID.TASKID when global), as docker's ps filter does", async () => {
    const { store, api } = setup();
    const unnamed = (slot: number, nodeId = ""): Partial<Task> => ({ slot, nodeId, annotations: { name: "", labels: {} }, serviceAnnotations: { name: "web", labels: {} } });
    await store.update((tx) => {
      tx.create("task", task("t1", "s1", unnamed(1)));
      tx.create("task", task("t10", "s1", unnamed(10)));
      tx.create("task", task("tg", "s2", { ...unnamed(0, "n7"), serviceAnnotations: { name: "agent", labels: {} } }));
    });
    const named = async (namePrefixes: string[]) => (await api.listTasks({ filters: { idPrefixes: [], names: [], namePrefixes, labels: [], serviceIds: [], nodeIds: [], desiredStates: [] } })).tasks.map((t) => t.id);
    expect(await named(["web.1."])).toEqual(["t1"]);
    expect(await named(["web.1"])).toEqual(["t1", "t10"]);
    expect(await named(["agent.n7"])).toEqual(["tg"]);
  });
});

describe("list filters", () => {
  it("match names, name prefixes, labels and id prefixes, all together", async () => {
    const { api } = setup("b2", "a1", "c3");
    await api.createService({ spec: spec("web", { annotations: { name: "web", labels: { tier: "front", env: "prod" } } }) });
    await api.createService({ spec: spec("web-canary", { annotations: { name: "web-canary", labels: { tier: "front" } } }) });
    await api.createService({ spec: spec("db", { annotations: { name: "db", labels: { env: "prod" } } }) });
    const ids = async (f: Partial<{ idPrefixes: string[]; names: string[]; namePrefixes: string[]; labels: string[] }>) =>
      (await api.listServices({ filters: { idPrefixes: [], names: [], namePrefixes: [], labels: [], ...f } })).services.map((s: Service) => s.id);
    expect(await ids({})).toEqual(["a1", "b2", "c3"]);
    expect(await ids({ names: ["web", "db"] })).toEqual(["b2", "c3"]);
    expect(await ids({ namePrefixes: ["web"] })).toEqual(["a1", "b2"]);
    expect(await ids({ labels: ["tier"] })).toEqual(["a1", "b2"]);
    expect(await ids({ labels: ["tier=front", "env=prod"] })).toEqual(["b2"]);
    expect(await ids({ labels: ["env"], idPrefixes: ["c"] })).toEqual(["c3"]);
  });
});

describe("cluster", () => {
  it("redacts keys and updates the spec with the version read", async () => {
    const { store, api } = setup();
    await store.update((tx) =>
      tx.create(
        "cluster",
        obj(
          Cluster.fromPartial({
            id: "c1",
            spec: { annotations: { name: "default" }, caConfig: { signingCaCert: Buffer.from("cert"), signingCaKey: Buffer.from("key") } },
            rootCa: { caKey: Buffer.from("root-key"), caCert: Buffer.from("root-cert"), rootRotation: { caKey: Buffer.from("new-key"), caCert: Buffer.from("c") } },
            unlockKeys: [{ subsystem: "manager", key: Buffer.from("unlock") }],
            networkBootstrapKeys: [{ subsystem: "networking:gossip", key: Buffer.from("k") }],
          }),
        ),
      ),
    );
    const c = (await api.getCluster({ clusterId: "c1" })).cluster!;
    expect(c.rootCa!.caKey.length).toBe(0);
    expect(c.rootCa!.rootRotation!.caKey.length).toBe(0);
    expect(c.rootCa!.caCert.toString()).toBe("root-cert");
    expect(c.spec!.caConfig!.signingCaKey.length).toBe(0);
    expect(c.unlockKeys).toEqual([]);
    expect(c.networkBootstrapKeys).toEqual([]);
    expect((await api.listClusters({ filters: undefined })).clusters.map((x) => x.rootCa!.caKey.length)).toEqual([0]);
    const updated = (await api.updateCluster({ clusterId: "default", clusterVersion: version(c), spec: { ...c.spec!, dispatcher: { heartbeatPeriodMs: 2000 } }, rotation: undefined })).cluster!;
    expect(updated.spec!.dispatcher).toEqual({ heartbeatPeriodMs: 2000 });
    const kept = store.view((r) => r.get("cluster", "c1")) as unknown as Cluster;
    expect(kept.rootCa!.caKey.toString()).toBe("root-key");
    await expectError(
      () => api.updateCluster({ clusterId: "c1", clusterVersion: version(updated), spec: { ...updated.spec!, annotations: { name: "prod", labels: {} } }, rotation: undefined }),
      "INVALID_ARGUMENT",
      `invalid name "prod": the cluster cannot be renamed (it is "default")`,
    );
  });
});

describe("watch", () => {
  async function take(it: AsyncIterator<WatchMessage>, n: number): Promise<WatchMessage[]> {
    const out: WatchMessage[] = [];
    for (let i = 0; i < n; i++) {
      const r = await it.next();
      if (r.done) throw new Error(`the watch ended after ${i} messages`);
      out.push(r.value);
    }
    return out;
  }

  it("streams one message per transaction, filtered by kind, with secret values removed", async () => {
    const { store, api } = setup("sec1", "s1");
    await store.update((tx) => tx.create("node", node("n1", "h1")));
    const abort = new AbortController();
    const w = api.watch(WatchRequest.fromPartial({ kinds: ["secret", "service"], includeOldObject: true }), abort.signal)[Symbol.asyncIterator]();
    expect(await take(w, 1)).toEqual([{ events: [], version: 1 }]);
    await store.update((tx) => tx.create("node", node("n2", "h2")));
    const sec = (await api.createSecret({ spec: { annotations: { name: "pw", labels: {} }, data: Buffer.from("hunter2"), templating: undefined, driver: undefined } })).secret!;
    await api.updateSecret({ secretId: "pw", secretVersion: version(sec), spec: { ...sec.spec!, annotations: { name: "pw", labels: { a: "1" } } } });
    await api.removeSecret({ secretId: "pw" });
    const [created, updated, removed] = await take(w, 3);
    expect(created!.version).toBe(3);
    expect(created!.events.map((e) => [e.action, e.object!.object!.$case])).toEqual([[StoreActionKind.STORE_ACTION_KIND_CREATE, "secret"]]);
    const secretOf = (o: typeof created.events[number]["object"]) => (o!.object as { secret: { spec: { data: Buffer; annotations: { labels: object } } } }).secret;
    expect(secretOf(created!.events[0]!.object).spec.data.length).toBe(0);
    expect(updated!.events[0]!.action).toBe(StoreActionKind.STORE_ACTION_KIND_UPDATE);
    expect(secretOf(updated!.events[0]!.object).spec.annotations.labels).toEqual({ a: "1" });
    expect(secretOf(updated!.events[0]!.oldObject).spec.annotations.labels).toEqual({});
    expect(secretOf(updated!.events[0]!.oldObject).spec.data.length).toBe(0);
    expect(removed!.events.map((e) => [e.action, e.object!.object!.$case])).toEqual([[StoreActionKind.STORE_ACTION_KIND_REMOVE, "secret"]]);
    expect(removed!.version).toBe(5);
    abort.abort();
    expect((await w.next()).done).toBe(true);
  });

  it("resumes from a version, and refuses an unknown kind", async () => {
    const { store, api } = setup("s1", "s2");
    await api.createService({ spec: spec("a") });
    await api.createService({ spec: spec("b") });
    await store.update((tx) => tx.create("node", node("n1", "h1")));
    const w = api.watch(WatchRequest.fromPartial({ resumeFrom: 1 }))[Symbol.asyncIterator]();
    const msgs = await take(w, 3);
    expect(msgs.map((m) => [m.version, m.events.map((e) => e.object!.object!.$case)])).toEqual([
      [1, []],
      [2, ["service"]],
      [3, ["node"]],
    ]);
    expect(msgs[1]!.events[0]!.oldObject).toBeUndefined();
    await w.return?.();
    await expectError(() => api.watch(WatchRequest.fromPartial({ kinds: ["volume"] })), "INVALID_ARGUMENT", `invalid kinds[0] "volume": must be node, service, task, network, secret, config or cluster`);
  });
});

describe("ids", () => {
  it("are 25 lowercase base36 characters and differ", () => {
    const ids = new Set(Array.from({ length: 100 }, () => newObjectId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{25}$/);
  });
});
