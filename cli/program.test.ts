import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { GetNodeResponse, ListNodesResponse } from "../proto/gen/control.js";
import { InfoResponse } from "../proto/gen/daemon.js";
import { grpcError, runCli, startFakeSwarmd, type FakeSwarmd } from "./testing/fake-swarmd.js";

let fake: FakeSwarmd | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const dir = mkdtempSync(path.join(os.tmpdir(), "swarm-cli-nothing-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("errors from swarmd", () => {
  it("NOT_FOUND is printed as swarmd words it, exit 1", async () => {
    fake = await startFakeSwarmd({
      daemon: { info: () => InfoResponse.fromPartial({}) },
      control: {
        getNode: ({ nodeId }) => {
          throw grpcError(grpc.status.NOT_FOUND, `node ${nodeId} not found`);
        },
      },
    });
    expect(await runCli(["node", "update", "--availability", "drain", "ghost"], { host: fake.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: node ghost not found\n",
    });
  });

  it("UNAVAILABLE from the manager side keeps its message (it is not a connection failure)", async () => {
    fake = await startFakeSwarmd({
      daemon: { info: () => InfoResponse.fromPartial({}) },
      control: { listNodes: () => Promise.reject(grpcError(grpc.status.UNAVAILABLE, "no leader: the cluster has no quorum (1 of 3 managers reachable)")) },
    });
    expect(await runCli(["node", "ls"], { host: fake.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: no leader: the cluster has no quorum (1 of 3 managers reachable)\n",
    });
  });

  it("a method swarmd does not serve is named", async () => {
    fake = await startFakeSwarmd({ daemon: { info: () => InfoResponse.fromPartial({}) } });
    expect(await runCli(["node", "ls"], { host: fake.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: `Error: swarmd at ${fake.host} does not implement /swarm.v1.Control/ListNodes: is it an older version?\n`,
    });
  });

  it("an internal error with no details still gets one line", async () => {
    fake = await startFakeSwarmd({ daemon: { leave: () => Promise.reject(grpcError(grpc.status.INTERNAL, "")) } });
    expect(await runCli(["leave"], { host: fake.host })).toEqual({
      code: 1,
      stdout: "",
      stderr: "Error: INTERNAL from swarmd (/swarm.v1.Daemon/Leave)\n",
    });
  });
});

describe("connecting", () => {
  it.each([
    ["a socket path that does not exist", () => path.join(dir, "missing.sock")],
    [
      "a file nothing listens on",
      () => {
        const file = path.join(dir, "stale.sock");
        writeFileSync(file, "");
        return file;
      },
    ],
  ])("%s fails at once with the hint", async (_what, socket) => {
    const host = `unix://${socket()}`;
    const started = Date.now();
    const r = await runCli(["node", "ls"], { host, connectTimeoutMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `Error: cannot connect to swarmd at ${host}: is swarmd running?\n` });
  });

  it("-H wins over SWARM_HOST, which wins over the default", async () => {
    fake = await startFakeSwarmd({
      daemon: { info: () => InfoResponse.fromPartial({ nodeId: "n1" }) },
      control: { listNodes: () => ListNodesResponse.fromPartial({}), getNode: () => GetNodeResponse.fromPartial({}) },
    });
    const elsewhere = `unix://${path.join(dir, "elsewhere.sock")}`;
    expect((await runCli(["-H", fake.host, "node", "ls", "-q"], { host: elsewhere })).code).toBe(0);
    expect((await runCli(["node", "ls", "-q", "--host", fake.host], { host: elsewhere })).code).toBe(0);
    expect((await runCli(["node", "ls", "-q"], { host: fake.host })).code).toBe(0);
  });

  it("refuses a -H that is not a unix socket", async () => {
    expect(await runCli(["-H", "tcp://10.0.0.1:2375", "node", "ls"])).toEqual({
      code: 1,
      stdout: "",
      stderr: 'Error: invalid --host "tcp://10.0.0.1:2375": must be unix:///path/to/swarmd.sock\n',
    });
  });
});

describe("usage", () => {
  it("--help prints usage on stdout, exit 0", async () => {
    const r = await runCli(["node", "update", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("Usage: swarm node update [options] <node>");
    expect(r.stdout).toMatch(/--availability <state> +Availability of the node \("active", "pause", "drain"\)/);
    expect(r.stdout).toMatch(/Global Options:\n +-H, --host <addr>/);
  });

  it.each([
    [["node", "ls", "--bogus"], "error: unknown option '--bogus'\nSee 'swarm node ls --help'.\n"],
    [["node", "update"], "error: missing required argument 'node'\nSee 'swarm node update --help'.\n"],
    [["node", "update", "a", "b"], "error: too many arguments for 'update'. Expected 1 argument but got 2.\nSee 'swarm node update --help'.\n"],
    [["frobnicate"], "error: unknown command 'frobnicate'\nSee 'swarm --help'.\n"],
  ])("%j is a usage error, exit 1", async (argv, stderr) => {
    expect(await runCli(argv)).toEqual({ code: 1, stdout: "", stderr });
  });
});
