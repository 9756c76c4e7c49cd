// The executor's logic over a fake engine: adoption, never pulling a present image, pull failures, owned(),
// and onChange/wait fed by the one events stream, including a stream that breaks and reconnects.
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Task } from "../../../proto/gen/objects.js";
import type { ContainerStatus } from "../executor.js";
import { DockerExecutor } from "./docker-executor.js";
import {
  EngineApiError,
  type ContainerCreateBody,
  type EngineClient,
  type EngineContainer,
  type EngineContainerSummary,
  type EngineEvent,
  type EngineInfo,
  type EngineLogsQuery,
  type EngineVersion,
} from "./engine-client.js";
import { DockerErrorCode } from "./errors.js";
import { LABEL } from "./names.js";

const ZERO = "0001-01-01T00:00:00Z";

interface Stream {
  onEvent: (e: EngineEvent) => void;
  onEnd: (err?: Error) => void;
  filters: Record<string, string[]>;
}

/** An engine in memory, with call counters. */
class FakeEngine implements EngineClient {
  images = new Set<string>(["app:1"]);
  containers = new Map<string, EngineContainer>();
  calls: string[] = [];
  streams: Stream[] = [];
  pullError: string | null = "pull access denied";
  /** The body chunks GET /containers/{id}/logs answers, by container id. */
  logBodies = new Map<string, Buffer[]>();
  logsError: EngineApiError | null = null;
  /** Container inspects answered. */
  inspects = 0;
  /** The time events carry (ns since the epoch); 0 = none, as an engine that gives no time. */
  eventTimeNano = 0;
  private seq = 0;

  async version(): Promise<EngineVersion> {
    return { version: "20.10.24", apiVersion: "1.41", os: "linux", arch: "amd64" };
  }
  async info(): Promise<EngineInfo> {
    return {
      ncpu: 2,
      memTotalBytes: 1 << 30,
      labels: ["zone=a", "ssd"],
      plugins: [
        { type: "Volume", name: "local" },
        { type: "Network", name: "null" },
        { type: "Network", name: "null" },
        { type: "Log", name: "json-file" },
        { type: "Other", name: "x" },
      ],
    };
  }
  async pullImage(ref: string): Promise<void> {
    this.calls.push(`pull ${ref}`);
    if (this.pullError) throw new EngineApiError(500, this.pullError);
    this.images.add(ref);
  }
  async createContainer(name: string, body: ContainerCreateBody): Promise<string> {
    this.calls.push(`create ${name}`);
    if ([...this.containers.values()].some((c) => c.name === name)) throw new EngineApiError(409, `Conflict. The container name "/${name}" is already in use`);
    if (!this.images.has(body.Image)) throw new EngineApiError(404, `No such image: ${body.Image}`);
    const id = `c${++this.seq}`;
    this.containers.set(id, {
      id,
      name,
      labels: body.Labels,
      state: { Status: "created", Running: false, ExitCode: 0, Error: "", OOMKilled: false, Pid: 0, StartedAt: ZERO, FinishedAt: ZERO },
    });
    return id;
  }
  async startContainer(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    this.setState(id, { Status: "running", Running: true, Pid: 100 });
    this.emit(id, "start");
  }
  async stopContainer(id: string, t: number): Promise<void> {
    this.calls.push(`stop ${id} ${t}`);
    this.exit(id, 143);
  }
  async removeContainer(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    const c = this.containers.get(id);
    this.containers.delete(id);
    if (c) this.emit(id, "destroy", c.labels);
  }
  async inspectContainer(id: string): Promise<EngineContainer | null> {
    this.inspects++;
    return this.containers.get(id) ?? [...this.containers.values()].find((c) => c.name === id) ?? null;
  }
  async listContainers(labels: string[]): Promise<EngineContainerSummary[]> {
    this.calls.push(`list ${labels.join(",")}`);
    return [...this.containers.values()]
      .filter((c) => labels.every((l) => c.labels[l.split("=")[0]!] === l.slice(l.indexOf("=") + 1)))
      .map((c) => ({ id: c.id, labels: c.labels, state: c.state.Status }));
  }
  async events(filters: Record<string, string[]>, onEvent: (e: EngineEvent) => void, onEnd: (err?: Error) => void): Promise<void> {
    this.calls.push("events");
    this.streams.push({ onEvent, onEnd, filters });
  }
  async containerLogs(id: string, query: EngineLogsQuery): Promise<Readable> {
    this.calls.push(`logs ${id} ${JSON.stringify(query)}`);
    if (this.logsError) throw this.logsError;
    return Readable.from(this.logBodies.get(id) ?? []);
  }

  /** The container exits with `code` (as the engine would report it). */
  exit(id: string, code: number): void {
    this.setState(id, { Status: "exited", Running: false, Pid: 0, ExitCode: code, FinishedAt: "2026-01-01T00:00:00Z" });
    this.emit(id, "die");
  }
  setState(id: string, s: Partial<EngineContainer["state"]>): void {
    const c = this.containers.get(id)!;
    c.state = { ...c.state, ...s };
  }
  emit(id: string, action: string, labels?: Record<string, string>): void {
    const attributes = labels ?? this.containers.get(id)?.labels ?? {};
    for (const s of this.streams) s.onEvent({ type: "container", action, id, attributes, timeNano: this.eventTimeNano });
  }
  /** Adds a container as another agent (or a previous run) would have made it. */
  add(name: string, labels: Record<string, string>, status = "running"): string {
    const id = `c${++this.seq}`;
    this.containers.set(id, {
      id,
      name,
      labels,
      state: { Status: status, Running: status === "running", ExitCode: 0, Error: "", OOMKilled: false, Pid: 1, StartedAt: ZERO, FinishedAt: ZERO },
    });
    return id;
  }
}

function task(id: string, image = "app:1", slot = 1): Task {
  return Task.fromPartial({
    id,
    serviceId: "svc",
    slot,
    nodeId: "node-a",
    serviceAnnotations: { name: "web" },
    spec: { runtime: { $case: "container", container: { image, stopGracePeriodMs: 1500 } } },
  });
}

const deps = { secrets: [], configs: [] };
const never = new AbortController().signal;

/** Resolves at the next status `listener` gets that satisfies `pred`. */
function nextStatus(subscribe: (l: (s: ContainerStatus) => void) => () => void, pred: (s: ContainerStatus) => boolean): Promise<ContainerStatus> {
  return new Promise((resolve) => {
    const off = subscribe((s) => {
      if (!pred(s)) return;
      off();
      resolve(s);
    });
  });
}

describe("DockerExecutor (fake engine)", () => {
  it("describes the engine: version, labels, plugins of the known types, resources and Go platform names", async () => {
    const ex = new DockerExecutor({ nodeId: "node-a", client: new FakeEngine() });
    const d = await ex.describe();
    expect(d.engine).toEqual({
      engineVersion: "20.10.24",
      labels: { zone: "a", ssd: "" },
      plugins: [
        { type: "Volume", name: "local" },
        { type: "Network", name: "null" },
        { type: "Log", name: "json-file" },
      ],
    });
    expect(d.resources).toMatchObject({ nanoCpus: 2_000_000_000, memoryBytes: 1 << 30 });
    expect(d.platform).toEqual({ os: "linux", architecture: "amd64" });
  });

  it("creates a container for a task, and never pulls an image that is present", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    const ctl = ex.controller(task("t1"), deps);
    await ctl.prepare(never);
    await ctl.prepare(never); // idempotent: adopts its own container
    expect(engine.calls.filter((c) => c.startsWith("pull"))).toEqual([]);
    expect(engine.calls.filter((c) => c.startsWith("create"))).toEqual(["create web.1.t1"]);
    const [c] = [...engine.containers.values()];
    expect(c!.labels).toMatchObject({ [LABEL.nodeId]: "node-a", [LABEL.taskId]: "t1", [LABEL.taskName]: "web.1.t1" });
  });

  it("creates and starts a fresh task's container with one call each, no lookups", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    const ctl = ex.controller(task("t1"), deps);
    await ctl.prepare(never);
    await ctl.start();
    expect(engine.calls.filter((c) => c !== "events")).toEqual(["create web.1.t1", "start c1"]);
    expect(await ctl.inspect()).toMatchObject({ containerId: "c1", state: "running" });
  });

  it("pulls a missing image, and a failed pull says image not found with the engine's reason", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    await expect(ex.controller(task("t1", "missing:1"), deps).prepare(never)).rejects.toMatchObject({
      code: DockerErrorCode.ImageNotFound,
      message: "image not found: missing:1 (pull access denied)",
    });
    expect(engine.containers.size).toBe(0);
    engine.pullError = null;
    engine.calls = [];
    await ex.controller(task("t1", "missing:1"), deps).prepare(never);
    // Create says the image is missing, the pull brings it, create runs again.
    expect(engine.calls).toEqual(["create web.1.t1", "pull missing:1", "create web.1.t1"]);
    expect(engine.containers.size).toBe(1);
  });

  it("adopts the container of a previous agent instead of creating another", async () => {
    const engine = new FakeEngine();
    const id = engine.add("web.1.t1", { [LABEL.nodeId]: "node-a", [LABEL.taskId]: "t1" });
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    expect([...(await ex.owned()).keys()]).toEqual(["t1"]);
    const ctl = ex.controller(task("t1"), deps);
    await ctl.prepare(never); // create answers 409: the container is found by its labels
    await ctl.start(); // already running: no start call
    expect(engine.calls.filter((c) => c.startsWith("start"))).toEqual([]);
    expect(engine.containers.size).toBe(1);
    expect(await ctl.inspect()).toMatchObject({ containerId: id, state: "running" });
  });

  it("ignores containers of other nodes, in owned() and when preparing", async () => {
    const engine = new FakeEngine();
    engine.add("web.1.t9", { [LABEL.nodeId]: "node-b", [LABEL.taskId]: "t9" });
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    expect((await ex.owned()).size).toBe(0);
    const ctl = ex.controller(Task.fromPartial({ ...task("t9"), nodeId: "node-a" }), deps);
    expect(await ctl.inspect()).toBeNull();
    await ctl.shutdown(); // nothing of ours: a no-op
    await ctl.remove();
    expect(engine.calls.filter((c) => c.startsWith("stop") || c.startsWith("remove"))).toEqual([]);
    // Its name is taken by node-b's container: create fails with the engine's conflict.
    await expect(ctl.prepare(never)).rejects.toMatchObject({ code: DockerErrorCode.Engine, message: expect.stringContaining("already in use") });
  });

  it("opens one events stream for the whole executor, filtered on its node, and feeds onChange and wait", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    const a = ex.controller(task("ta", "app:1", 1), deps);
    const b = ex.controller(task("tb", "app:1", 2), deps);
    await a.prepare(never);
    await b.prepare(never);
    const started = nextStatus((l) => a.onChange(l), (s) => s.state === "running");
    const waited = b.wait(never);
    await ex.eventsConnected();
    expect(engine.streams).toHaveLength(1);
    expect(engine.streams[0]!.filters).toEqual({ type: ["container"], label: [`${LABEL.nodeId}=node-a`] });
    await a.start();
    expect(await started).toMatchObject({ state: "running" });
    await b.start();
    engine.exit((await b.inspect())!.containerId, 3);
    expect(await waited).toMatchObject({ state: "exited", exitCode: 3, error: "exit code 3" });
    // An already exited container: wait answers at once.
    expect(await b.wait(never)).toMatchObject({ exitCode: 3 });
    await ex.close();
  });

  it("answers an event from an inspect asked for after it happened, and inspects again for a later event", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    const a = ex.controller(task("ta"), deps);
    await a.prepare(never);
    await a.start();
    await ex.eventsConnected();
    const id = (await a.inspect())!.containerId; // asked for after the start
    const inspects = engine.inspects;

    engine.eventTimeNano = (Date.now() - 1_000) * 1e6; // the start, as the engine dates it: before that inspect
    const running = nextStatus((l) => a.onChange(l), (s) => s.state === "running");
    engine.emit(id, "start");
    expect(await running).toMatchObject({ containerId: id, state: "running" });
    expect(engine.inspects).toBe(inspects);

    engine.eventTimeNano = (Date.now() + 1_000) * 1e6; // later than every inspect so far
    const exited = nextStatus((l) => a.onChange(l), (s) => s.state === "exited");
    engine.exit(id, 3);
    expect(await exited).toMatchObject({ exitCode: 3 });
    expect(engine.inspects).toBe(inspects + 1);
    await ex.close();
  });

  it("reports health changes", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    const a = ex.controller(task("ta"), deps);
    await a.prepare(never);
    await a.start();
    const unhealthy = nextStatus((l) => a.onChange(l), (s) => s.health === "unhealthy");
    await ex.eventsConnected();
    const id = (await a.inspect())!.containerId;
    engine.setState(id, { Health: { Status: "unhealthy" } });
    engine.emit(id, "health_status: unhealthy");
    expect(await unhealthy).toMatchObject({ state: "running", health: "unhealthy" });
    await ex.close();
  });

  it("reconnects a broken stream and reports what changed while it was down", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine, eventsBackoff: { initialMs: 1, maxMs: 5 } });
    const a = ex.controller(task("ta"), deps);
    await a.prepare(never);
    await a.start();
    const waited = a.wait(never);
    await ex.eventsConnected();
    // The stream breaks; the container dies while there is none (no event reaches us).
    const first = engine.streams[0]!;
    engine.streams = [];
    first.onEnd(new Error("socket hang up"));
    const id = (await a.inspect())!.containerId;
    engine.setState(id, { Status: "exited", Running: false, ExitCode: 1 });
    expect(await waited).toMatchObject({ state: "exited", exitCode: 1 });
    expect(engine.calls.filter((c) => c === "events")).toHaveLength(2);
    await ex.close();
  });

  it("rejects wait when the container is removed, or when aborted", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    const a = ex.controller(task("ta"), deps);
    await a.prepare(never);
    await a.start();
    const ac = new AbortController();
    const aborted = a.wait(ac.signal);
    ac.abort(new Error("agent stopping"));
    await expect(aborted).rejects.toThrow("agent stopping");
    const waited = a.wait(never);
    await ex.eventsConnected();
    await a.remove();
    await expect(waited).rejects.toMatchObject({ code: DockerErrorCode.NoContainer });
    await expect(a.wait(never)).rejects.toMatchObject({ code: DockerErrorCode.NoContainer });
    await a.remove(); // idempotent
    await ex.close();
  });

  it("stops with the task's grace in whole seconds, only when the container is up", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    const a = ex.controller(task("ta"), deps);
    await a.prepare(never);
    await a.shutdown(); // created, not running: nothing to stop
    await a.start();
    await a.shutdown();
    await a.shutdown();
    expect(engine.calls.filter((c) => c.startsWith("stop"))).toEqual(["stop c1 2"]);
    await ex.close();
    expect(() => ex.controller(task("tb"), deps)).toThrow(/closed/);
  });
});

/** A multiplexed frame of the logs endpoint: stream 1 (stdout) or 2 (stderr), then the payload. */
function frame(stream: 1 | 2, payload: string): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(Buffer.byteLength(payload), 4);
  return Buffer.concat([header, Buffer.from(payload)]);
}

async function collect(lines: AsyncIterable<{ timestamp: string; stream: string; data: Buffer }>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of lines) out.push(`${l.timestamp} ${l.stream} ${l.data.toString()}`);
  return out;
}

describe("DockerExecutor.logs (fake engine)", () => {
  const all = { follow: false, tail: -1, sinceUnixMs: 0, streams: [] };

  it("reads this node's container of the task with timestamps, demultiplexed, in order", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    const id = engine.add("web.1.ta", { [LABEL.nodeId]: "node-a", [LABEL.taskId]: "ta" });
    const body = Buffer.concat([frame(1, "2026-01-01T00:00:00.000000001Z out 1\n"), frame(2, "2026-01-01T00:00:00.000000002Z err 1\n")]);
    // Chunks that split a header and a line.
    engine.logBodies.set(id, [body.subarray(0, 5), body.subarray(5, 30), body.subarray(30)]);
    expect(await collect(ex.logs(task("ta"), all, never))).toEqual([
      "2026-01-01T00:00:00.000000001Z stdout out 1\n",
      "2026-01-01T00:00:00.000000002Z stderr err 1\n",
    ]);
    expect(engine.calls.filter((c) => c.startsWith("logs"))).toEqual([
      `logs ${id} ${JSON.stringify({ stdout: true, stderr: true, follow: false, tail: "all", since: "0" })}`,
    ]);
    await ex.close();
  });

  it("passes follow, tail, since and the streams asked for", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    const id = engine.add("web.1.ta", { [LABEL.nodeId]: "node-a", [LABEL.taskId]: "ta" });
    await collect(ex.logs(task("ta"), { follow: true, tail: 2, sinceUnixMs: 1_700_000_000_250, streams: ["stderr"] }, never));
    expect(engine.calls.filter((c) => c.startsWith("logs"))).toEqual([
      `logs ${id} ${JSON.stringify({ stdout: false, stderr: true, follow: true, tail: "2", since: "1700000000.250" })}`,
    ]);
    await ex.close();
  });

  it("has no logs for a task without a container, and never reads another node's container", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    engine.add("web.1.tb", { [LABEL.nodeId]: "node-b", [LABEL.taskId]: "tb" });
    expect(await collect(ex.logs(task("ta"), all, never))).toEqual([]);
    expect(await collect(ex.logs(task("tb"), all, never))).toEqual([]);
    expect(engine.calls.some((c) => c.startsWith("logs"))).toBe(false);
    await ex.close();
  });

  it("fails with the engine's words, and ends quietly when the container went away meanwhile", async () => {
    const engine = new FakeEngine();
    const ex = new DockerExecutor({ nodeId: "node-a", client: engine });
    engine.add("web.1.ta", { [LABEL.nodeId]: "node-a", [LABEL.taskId]: "ta" });
    engine.logsError = new EngineApiError(500, "configured logging driver does not support reading");
    await expect(collect(ex.logs(task("ta"), all, never))).rejects.toMatchObject({
      code: DockerErrorCode.Engine,
      message: "logs of task ta: configured logging driver does not support reading",
    });
    engine.logsError = new EngineApiError(404, "No such container: c1");
    expect(await collect(ex.logs(task("ta"), all, never))).toEqual([]);
    await ex.close();
  });
});
