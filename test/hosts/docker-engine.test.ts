// The private Docker engine of the harness: starts in a test host, imports the busybox test images, runs a
// container, and leaves nothing behind (no mounts under its dir, no dockerd/containerd/shim of it).
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerEngine, TEST_IMAGE, UNHEALTHY_TEST_IMAGE, containerLogs, engineRequest, ensureTestImages, mountsUnder } from "./docker-engine.js";
import { TestNetwork, type TestHost } from "./network.js";
import { waitFor } from "./poll.js";

/** PIDs of processes whose command line mentions `dir`. */
function processesOf(dir: string): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, "utf8").includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("DockerEngine", () => {
  let net: TestNetwork | undefined;
  let h1: TestHost;
  let engine: DockerEngine | undefined;

  beforeAll(async () => {
    net = await TestNetwork.create({ hosts: 1 });
    h1 = net.hosts[0]!;
  });

  afterAll(async () => {
    await engine?.stop();
    await net?.destroy();
  });

  it("starts a dockerd in a test host, imports the test images, runs a container, and cleans up", async () => {
    const t0 = Date.now();
    engine = await DockerEngine.start(net!, h1, { labels: { "swarm.test": "yes" } });
    const started = Date.now() - t0;
    expect(started).toBeLessThan(20_000);

    // dockerd runs in h1's network namespace.
    const inHost = await net!.exec(h1, ["readlink", "/proc/self/ns/net"]);
    expect(readlinkSync(`/proc/${engine.pid}/ns/net`)).toBe(inHost.stdout.trim());
    expect(readlinkSync(`/proc/${engine.pid}/ns/net`)).not.toBe(readlinkSync("/proc/self/ns/net"));

    const info = JSON.parse((await engineRequest(engine.socketPath, "GET", "/info")).body.toString()) as { Labels: string[]; DockerRootDir: string };
    expect(info.Labels).toContain("swarm.test=yes");
    expect(info.DockerRootDir).toBe(engine.dataRoot);

    await ensureTestImages(engine.socketPath);
    for (const ref of [TEST_IMAGE, UNHEALTHY_TEST_IMAGE]) {
      expect((await engineRequest(engine.socketPath, "GET", `/images/${ref}/json`)).status).toBe(200);
    }
    const unhealthy = JSON.parse((await engineRequest(engine.socketPath, "GET", `/images/${UNHEALTHY_TEST_IMAGE}/json`)).body.toString()) as {
      Config: { Healthcheck?: { Test: string[]; Retries: number } };
    };
    expect(unhealthy.Config.Healthcheck).toMatchObject({ Test: ["CMD-SHELL", "false"], Retries: 2 });

    const created = await engineRequest(engine.socketPath, "POST", "/containers/create?name=hello", {
      json: { Image: TEST_IMAGE, Cmd: ["echo", "hello"], HostConfig: { NetworkMode: "none" } },
    });
    expect(created.status, created.body.toString()).toBe(201);
    const { Id: id } = JSON.parse(created.body.toString()) as { Id: string };
    expect((await engineRequest(engine.socketPath, "POST", `/containers/${id}/start`)).status).toBe(204);
    const waited = await engineRequest(engine.socketPath, "POST", `/containers/${id}/wait`);
    expect(JSON.parse(waited.body.toString())).toMatchObject({ StatusCode: 0 });
    expect(await containerLogs(engine.socketPath, id)).toBe("hello\n");

    // A container left running, so that stop() has a shim, a netns mount and an overlay to clean up.
    const sleeper = await engineRequest(engine.socketPath, "POST", "/containers/create?name=sleeper", {
      json: { Image: TEST_IMAGE, Cmd: ["sleep", "100000"], HostConfig: { NetworkMode: "none" } },
    });
    const { Id: sid } = JSON.parse(sleeper.body.toString()) as { Id: string };
    expect((await engineRequest(engine.socketPath, "POST", `/containers/${sid}/start`)).status).toBe(204);
    expect(mountsUnder(engine.dir).length).toBeGreaterThan(0);
    expect(processesOf(engine.dir).length).toBeGreaterThanOrEqual(3); // dockerd, containerd, a shim

    const dir = engine.dir;
    const t1 = Date.now();
    await engine.stop();
    expect(Date.now() - t1).toBeLessThan(15_000);
    expect(mountsUnder(dir)).toEqual([]);
    expect(processesOf(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    await engine.stop(); // idempotent
  });

  it("starts in the root namespace too, and a second engine beside the first", async () => {
    const [a, b] = await Promise.all([DockerEngine.start(null, null), DockerEngine.start(net!, h1)]);
    try {
      expect(a.socketPath).not.toBe(b.socketPath);
      await Promise.all([ensureTestImages(a.socketPath), ensureTestImages(b.socketPath)]);
      const list = await waitFor(async () => (await engineRequest(a.socketPath, "GET", "/images/json")).status === 200 || undefined, {
        timeoutMs: 5000,
        what: "the image list",
      });
      expect(list).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    for (const e of [a, b]) {
      expect(mountsUnder(e.dir)).toEqual([]);
      expect(existsSync(e.dir)).toBe(false);
    }
  });
});
