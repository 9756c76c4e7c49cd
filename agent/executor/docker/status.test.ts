import { describe, expect, it } from "vitest";
import { EngineApiError, engineErrorOf, jsonLineSplitter, splitReference, type EngineContainer, type EngineContainerState } from "./engine-client.js";
import { DockerErrorCode, engineFailure, imageNotFound } from "./errors.js";
import { containerStatus, hasFinished } from "./status.js";

const ZERO = "0001-01-01T00:00:00Z";

function container(state: Partial<EngineContainerState>): EngineContainer {
  return {
    id: "c1",
    name: "web.1.t1",
    labels: {},
    state: { Status: "running", Running: true, ExitCode: 0, Error: "", OOMKilled: false, Pid: 42, StartedAt: "2026-01-02T03:04:05.5Z", FinishedAt: ZERO, ...state },
  };
}

describe("containerStatus", () => {
  it("reports a running container with its pid, start time and health", () => {
    expect(containerStatus(container({ Health: { Status: "healthy" } }))).toEqual({
      containerId: "c1",
      state: "running",
      pid: 42,
      startedAtUnixMs: Date.parse("2026-01-02T03:04:05.5Z"),
      health: "healthy",
    });
  });

  it("reports an exit code, and 'exit code N' as the error when it is not 0", () => {
    const ok = containerStatus(container({ Status: "exited", Running: false, Pid: 0, FinishedAt: "2026-01-02T03:04:06Z" }));
    expect(ok).toMatchObject({ state: "exited", exitCode: 0, finishedAtUnixMs: Date.parse("2026-01-02T03:04:06Z") });
    expect(ok.error).toBeUndefined();
    expect(hasFinished(ok)).toBe(true);
    expect(containerStatus(container({ Status: "exited", Running: false, ExitCode: 137 })).error).toBe("exit code 137");
    expect(containerStatus(container({ Status: "exited", Running: false, ExitCode: 137, OOMKilled: true })).error).toBe("exit code 137 (out of memory)");
  });

  it("reports a failed start (still 'created') with the engine's error and counts it as finished", () => {
    const s = containerStatus(
      container({ Status: "created", Running: false, Pid: 0, ExitCode: 127, StartedAt: ZERO, Error: 'OCI runtime create failed: exec: "/nope": no such file or directory' }),
    );
    expect(s).toEqual({ containerId: "c1", state: "created", exitCode: 127, error: 'OCI runtime create failed: exec: "/nope": no such file or directory' });
    expect(hasFinished(s)).toBe(true);
    expect(hasFinished(containerStatus(container({ Status: "created", Running: false, Pid: 0, StartedAt: ZERO })))).toBe(false);
  });
});

describe("engine errors", () => {
  it("takes the engine's message out of a dockerode error", () => {
    const e = engineErrorOf(Object.assign(new Error("(HTTP code 404) no such container - No such container: x "), { statusCode: 404, json: { message: "No such container: x" } }));
    expect(e).toMatchObject({ status: 404, engineMessage: "No such container: x" });
    const streamed = engineErrorOf(Object.assign(new Error("(HTTP code 500) server error - Get http://127.0.0.1:9/v2/: connection refused "), { statusCode: 500, json: null }));
    expect(streamed.engineMessage).toBe("Get http://127.0.0.1:9/v2/: connection refused");
    const refused = engineErrorOf(Object.assign(new Error("connect ENOENT /x.sock"), { code: "ENOENT" }));
    expect(refused).toMatchObject({ status: undefined, engineMessage: "connect ENOENT /x.sock" });
  });

  it("words failures for users", () => {
    expect(imageNotFound("app:1", new EngineApiError(500, "pull access denied for app")).message).toBe("image not found: app:1 (pull access denied for app)");
    const start = engineFailure("start web.1.t1", new EngineApiError(400, "OCI runtime create failed: boom"));
    expect(start).toMatchObject({ code: DockerErrorCode.Engine, message: "start web.1.t1: OCI runtime create failed: boom" });
    expect(engineFailure("inspect", new EngineApiError(undefined, "connect ECONNREFUSED"))).toMatchObject({ code: DockerErrorCode.EngineUnreachable });
  });
});

describe("engine client helpers", () => {
  it("splits image references into repository and tag", () => {
    expect(splitReference("busybox")).toEqual({ repository: "busybox", tag: "latest" });
    expect(splitReference("swarm-test/busybox:1")).toEqual({ repository: "swarm-test/busybox", tag: "1" });
    expect(splitReference("127.0.0.1:5000/app")).toEqual({ repository: "127.0.0.1:5000/app", tag: "latest" });
    expect(splitReference("127.0.0.1:5000/app:2")).toEqual({ repository: "127.0.0.1:5000/app", tag: "2" });
    expect(splitReference("app@sha256:abc")).toEqual({ repository: "app", tag: "sha256:abc" });
  });

  it("parses newline-delimited JSON split anywhere, skipping bad lines", () => {
    const got: unknown[] = [];
    const p = jsonLineSplitter((m) => got.push(m));
    const text = '{"a":1}\n{"b":\n2}\nnot json\n{"c":3}';
    for (const ch of text) p.push(ch);
    p.end();
    expect(got).toEqual([{ a: 1 }, { c: 3 }]);
  });
});
