// The Docker executor (agent/executor/docker) against a real dockerd in a test host: exit codes, a failing
// command, a missing image, stop within and past the grace period, adoption by a second executor, onChange
// on die and health, mounts, and containers of another node left alone.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerExecutor, LABEL } from "../../agent/executor/docker/index.js";
import type { ContainerController, ContainerStatus } from "../../agent/executor/executor.js";
import { Task } from "../../proto/gen/objects.js";
import type { ContainerSpec } from "../../proto/gen/specs.js";
import { MountType } from "../../proto/gen/types.js";
import { DockerEngine, TEST_IMAGE, UNHEALTHY_TEST_IMAGE, containerLogs, engineRequest, ensureTestImages } from "./docker-engine.js";
import { TestNetwork } from "./network.js";
import { waitFor } from "./poll.js";

const NODE = "node-a";
const deps = { secrets: [], configs: [] };
const never = new AbortController().signal;
let seq = 0;

function mkTask(container: Partial<ContainerSpec>, extra: Partial<Task> = {}): Task {
  const id = `task${++seq}x${process.pid}`;
  return Task.fromPartial({
    id,
    serviceId: "svc1",
    slot: seq,
    nodeId: NODE,
    serviceAnnotations: { name: "web" },
    spec: { runtime: { $case: "container", container: { image: TEST_IMAGE, ...container } } },
    ...extra,
  });
}

/** Resolves with the first status the controller reports that satisfies `pred`. */
function changeWhere(ctl: ContainerController, pred: (s: ContainerStatus) => boolean): Promise<ContainerStatus> {
  return new Promise((resolve) => {
    const off = ctl.onChange((s) => {
      if (pred(s)) {
        off();
        resolve(s);
      }
    });
  });
}

async function run(ex: DockerExecutor, task: Task): Promise<{ ctl: ContainerController; status: ContainerStatus }> {
  const ctl = ex.controller(task, deps);
  await ctl.prepare(never);
  await ctl.start();
  return { ctl, status: await ctl.wait(never) };
}

/** A shell that exits 0 on SIGTERM, once it says its trap is installed (PID 1 ignores TERM before that). */
const TRAPPER = ["sh", "-c", 'trap "exit 0" TERM; echo trap-ready; sleep 100000 & wait'];

async function trapInstalled(socketPath: string, ctl: ContainerController): Promise<void> {
  const id = (await ctl.inspect())!.containerId;
  await waitFor(async () => (await containerLogs(socketPath, id)).includes("trap-ready"), { timeoutMs: 10_000, what: "the container's TERM trap" });
}

describe("DockerExecutor on a real engine", () => {
  let net: TestNetwork | undefined;
  let engine: DockerEngine | undefined;
  let ex: DockerExecutor;
  const logs: string[] = [];
  const logger = {
    info: (f: Record<string, unknown>, m: string) => logs.push(`info ${m} ${JSON.stringify(f)}`),
    warn: (f: Record<string, unknown>, m: string) => logs.push(`warn ${m} ${JSON.stringify(f)}`),
    error: (f: Record<string, unknown>, m: string) => logs.push(`error ${m} ${JSON.stringify(f)}`),
  };

  beforeAll(async () => {
    net = await TestNetwork.create({ hosts: 1 });
    engine = await DockerEngine.start(net, net.hosts[0]!, { labels: { zone: "z1" } });
    await ensureTestImages(engine.socketPath);
    ex = new DockerExecutor({ socketPath: engine.socketPath, nodeId: NODE, logger });
  });

  afterAll(async () => {
    await ex?.close();
    await engine?.stop();
    await net?.destroy();
  });

  it("describes the engine", async () => {
    const d = await ex.describe();
    expect(d.engine.engineVersion).toMatch(/^\d+\.\d+/);
    expect(d.engine.labels).toEqual({ zone: "z1" });
    expect(d.engine.plugins).toContainEqual({ type: "Volume", name: "local" });
    expect(d.platform?.os).toBe("linux");
    expect(d.platform?.architecture).toBe(({ x64: "amd64", arm64: "arm64" } as Record<string, string>)[process.arch] ?? process.arch);
    expect(d.resources?.nanoCpus).toBe(os.cpus().length * 1_000_000_000);
    expect(d.resources?.memoryBytes).toBeGreaterThan(0);
  });

  it("runs tasks to exit 0 and exit 1 and reports the exit code", async () => {
    const [ok, bad] = await Promise.all([run(ex, mkTask({ command: ["sh", "-c", "exit 0"] })), run(ex, mkTask({ command: ["sh", "-c", "echo oops >&2; exit 1"] }))]);
    expect(ok.status).toMatchObject({ state: "exited", exitCode: 0 });
    expect(ok.status.error).toBeUndefined();
    expect(bad.status).toMatchObject({ state: "exited", exitCode: 1, error: "exit code 1" });
    expect(bad.status.finishedAtUnixMs).toBeGreaterThan(0);
    expect(await containerLogs(engine!.socketPath, bad.status.containerId)).toBe("oops\n");
  });

  it("fails to start a task whose command does not exist, with the engine's message", async () => {
    const task = mkTask({ command: ["/no/such/program"] });
    const ctl = ex.controller(task, deps);
    await ctl.prepare(never);
    await expect(ctl.start()).rejects.toThrow(/OCI runtime create failed: .*\/no\/such\/program/);
    const status = await ctl.wait(never);
    expect(status).toMatchObject({ state: "created", exitCode: 127 });
    expect(status.error).toMatch(/OCI runtime create failed/);
  });

  it("says image not found, with the engine's reason, for an image it cannot pull", async () => {
    const image = "127.0.0.1:9/swarm-test/missing:latest";
    const ctl = ex.controller(mkTask({ image }), deps);
    const err = await ctl.prepare(never).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^image not found: 127\.0\.0\.1:9\/swarm-test\/missing:latest \(.*connection refused\)$/);
    expect(err?.message).not.toMatch(/Pulling|Waiting|Downloading/);
    expect(await ctl.inspect()).toBeNull();
  });

  it("shuts down a container that exits on SIGTERM within its grace period", async () => {
    const ctl = ex.controller(mkTask({ command: TRAPPER }), deps);
    await ctl.prepare(never);
    await ctl.start();
    expect(await ctl.inspect()).toMatchObject({ state: "running" });
    await trapInstalled(engine!.socketPath, ctl);
    const t0 = Date.now();
    await ctl.shutdown();
    const took = Date.now() - t0;
    expect(took).toBeLessThan(5_000);
    expect(await ctl.wait(never)).toMatchObject({ state: "exited", exitCode: 0 });
    await ctl.shutdown(); // idempotent
  });

  it("SIGKILLs a container that ignores SIGTERM once its grace (1 s) has passed", async () => {
    const ctl = ex.controller(mkTask({ command: ["sleep", "100000"], stopGracePeriodMs: 1000 }), deps);
    await ctl.prepare(never);
    await ctl.start();
    const t0 = Date.now();
    await ctl.shutdown();
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5_000);
    expect(await ctl.wait(never)).toMatchObject({ state: "exited", exitCode: 137, error: "exit code 137" });
  });

  it("lets a second executor (an agent restart) adopt the running container instead of creating another", async () => {
    const task = mkTask({ command: TRAPPER });
    const first = ex.controller(task, deps);
    await first.prepare(never);
    await first.start();
    const before = (await first.inspect())!;

    const ex2 = new DockerExecutor({ socketPath: engine!.socketPath, nodeId: NODE });
    try {
      const owned = await ex2.owned();
      expect(owned.get(task.id)).toMatchObject({ containerId: before.containerId, state: "running" });
      const again = ex2.controller(task, deps);
      await again.prepare(never);
      await again.start();
      const list = JSON.parse(
        (await engineRequest(engine!.socketPath, "GET", `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`${LABEL.taskId}=${task.id}`] }))}`)).body.toString(),
      ) as { Id: string }[];
      expect(list.map((c) => c.Id)).toEqual([before.containerId]);
      expect(await again.inspect()).toMatchObject({ containerId: before.containerId, state: "running", pid: before.pid });
      await trapInstalled(engine!.socketPath, again);
      const died = changeWhere(again, (s) => s.state === "exited");
      await again.shutdown();
      expect(await died).toMatchObject({ exitCode: 0 });
      await again.remove();
      expect(await first.inspect()).toBeNull();
    } finally {
      await ex2.close();
    }
  });

  it("reports die and health status through onChange", async () => {
    // Health from the spec: healthy within a few checks 100 ms apart.
    const healthy = ex.controller(mkTask({ command: ["sleep", "100000"], stopGracePeriodMs: 0, healthcheck: { test: ["CMD", "true"], intervalMs: 100, timeoutMs: 1000, retries: 1, startPeriodMs: 0, startIntervalMs: 0 } }), deps);
    // Health from the image: unhealthy after 2 failed checks 1 s apart.
    const unhealthy = ex.controller(mkTask({ image: UNHEALTHY_TEST_IMAGE, command: ["sleep", "100000"], stopGracePeriodMs: 0 }), deps);
    // NONE disables the image's check.
    const none = ex.controller(mkTask({ image: UNHEALTHY_TEST_IMAGE, command: ["sleep", "100000"], stopGracePeriodMs: 0, healthcheck: { test: ["NONE"], intervalMs: 0, timeoutMs: 0, retries: 0, startPeriodMs: 0, startIntervalMs: 0 } }), deps);
    await Promise.all([healthy.prepare(never), unhealthy.prepare(never), none.prepare(never)]);
    const gotHealthy = changeWhere(healthy, (s) => s.health === "healthy");
    const gotUnhealthy = changeWhere(unhealthy, (s) => s.health === "unhealthy");
    const started = changeWhere(none, (s) => s.state === "running");
    await Promise.all([healthy.start(), unhealthy.start(), none.start()]);
    expect(await gotHealthy).toMatchObject({ state: "running", health: "healthy" });
    expect(await gotUnhealthy).toMatchObject({ state: "running", health: "unhealthy" });
    expect((await started).health).toBeUndefined();
    // Three controllers listening, one events stream (the other executors of earlier tests are closed).
    await waitFor(
      async () => (JSON.parse((await engineRequest(engine!.socketPath, "GET", "/info")).body.toString()) as { NEventsListener: number }).NEventsListener === 1,
      { timeoutMs: 5000, what: "exactly one events listener on the engine" },
    );
    expect((await none.inspect())!.health).toBeUndefined();

    const died = changeWhere(healthy, (s) => s.state === "exited");
    await Promise.all([healthy.shutdown(), unhealthy.shutdown(), none.shutdown()]);
    expect(await died).toMatchObject({ state: "exited", exitCode: 137 });
  });

  it("mounts a bind mount and a tmpfs with its size and mode", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "swarm-bind-"));
    try {
      writeFileSync(path.join(dir, "in.txt"), "from the host\n");
      const script = "cat /data/in.txt; echo from-container > /data/out.txt; grep ' /scratch ' /proc/mounts; touch /ro/x 2>/dev/null && echo writable || echo read-only";
      const { status } = await run(
        ex,
        mkTask({
          command: ["sh", "-c", script],
          mounts: [
            { type: MountType.MOUNT_TYPE_BIND, source: dir, target: "/data", readOnly: false, bindOptions: undefined, volumeOptions: undefined, tmpfsOptions: undefined },
            { type: MountType.MOUNT_TYPE_BIND, source: dir, target: "/ro", readOnly: true, bindOptions: undefined, volumeOptions: undefined, tmpfsOptions: undefined },
            { type: MountType.MOUNT_TYPE_TMPFS, source: "", target: "/scratch", readOnly: false, bindOptions: undefined, volumeOptions: undefined, tmpfsOptions: { sizeBytes: 1 << 20, mode: 0o700, options: "" } },
          ],
        }),
      );
      expect(status).toMatchObject({ exitCode: 0 });
      const out = await containerLogs(engine!.socketPath, status.containerId);
      const [line1, tmpfs, ro] = out.trim().split("\n");
      expect(line1).toBe("from the host");
      expect(tmpfs).toMatch(/^tmpfs \/scratch tmpfs rw,.*size=1024k.*mode=700/);
      expect(ro).toBe("read-only");
      expect(readFileSync(path.join(dir, "out.txt"), "utf8")).toBe("from-container\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("ignores the containers of another node id", async () => {
    const other = new DockerExecutor({ socketPath: engine!.socketPath, nodeId: "node-b" });
    try {
      const task = mkTask({ command: ["sleep", "100000"], stopGracePeriodMs: 0 }, { nodeId: "node-b" });
      const theirs = other.controller(task, deps);
      await theirs.prepare(never);
      await theirs.start();
      expect((await other.owned()).has(task.id)).toBe(true);
      expect((await ex.owned()).has(task.id)).toBe(false);
      const mine = ex.controller(task, deps);
      expect(await mine.inspect()).toBeNull();
      await mine.shutdown();
      await mine.remove();
      expect(await theirs.inspect()).toMatchObject({ state: "running" });
      await theirs.remove();
      expect(await theirs.inspect()).toBeNull();
    } finally {
      await other.close();
    }
    expect(logs.filter((l) => l.startsWith("error"))).toEqual([]);
  });
});
