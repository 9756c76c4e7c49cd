// A cluster of real `swarmd` processes, one per test host (network namespace), driven with the
// real `swarm` CLI over each daemon's local socket. Data dirs and sockets live in a temp dir that
// is removed with the network. Optionally a host gets its own Docker engine (started inside its
// namespace, with the test images) that its swarmd runs tasks on, and swarmd serves the test-only
// TestHooks service (`--test-hooks`) on its local socket.
import type { Task } from "../../proto/gen/objects.js";
import { describeTasks, tasksOf } from "./cluster-api.js";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { DaemonClient, type InfoResponse } from "../../proto/gen/daemon.js";
import { HostProcess } from "../hosts/daemon-process.js";
import { DockerEngine, ensureTestImages } from "../hosts/docker-engine.js";
import { TestNetwork, type TestHost } from "../hosts/network.js";
import { waitFor } from "../hosts/poll.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SWARMD = path.join(ROOT, "dist/daemon/main.js");
const SWARM = path.join(ROOT, "dist/cli/main.js");

export interface SwarmHostsOptions {
  /** Indexes (0-based) of the hosts that get their own Docker engine; the others' swarmd point at none. */
  engines?: number[];
  /** Start swarmd with `--test-hooks` (the TestHooks service on the local socket). */
  testHooks?: boolean;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One host's daemon: its process (while running), data dir and socket, and its Docker engine if it has one. */
export class SwarmdHost {
  proc: HostProcess | null = null;
  readonly dataDir: string;
  readonly socket: string;
  /** This host's own engine (the `engines` option), which its swarmd is given with --engine-socket. */
  engine: DockerEngine | null = null;

  constructor(
    private readonly net: TestNetwork,
    readonly host: TestHost,
    dir: string,
    private readonly testHooks = false,
  ) {
    this.dataDir = path.join(dir, host.name, "data");
    this.socket = path.join(dir, host.name, "swarmd.sock");
  }

  /** Starts this host's engine inside its namespace and imports the test images. */
  async startEngine(): Promise<DockerEngine> {
    this.engine = await DockerEngine.start(this.net, this.host);
    await ensureTestImages(this.engine.socketPath);
    return this.engine;
  }

  get addr(): string {
    return `${this.host.address}:2377`;
  }

  /** Starts swarmd in the host and waits until its socket answers. */
  async start(): Promise<void> {
    this.proc = HostProcess.start(
      this.net,
      this.host,
      [
        process.execPath,
        SWARMD,
        "--data-dir",
        this.dataDir,
        "-H",
        `unix://${this.socket}`,
        "--listen-addr",
        `${this.host.address}:2377`,
        "--advertise-addr",
        this.host.address,
        "--hostname",
        `h${this.host.index}`,
        "--log-level",
        "debug",
        "--raft-tick-ms",
        "50",
        ...(this.engine ? ["--engine-socket", this.engine.socketPath] : []),
        ...(this.testHooks ? ["--test-hooks"] : []),
      ],
      { label: `swarmd ${this.host.name}` },
    );
    await waitFor(async () => Boolean(await this.info()), { timeoutMs: 20_000, what: `swarmd on ${this.host.name} to answer` });
  }

  /** SIGTERM and wait. */
  async stop(): Promise<void> {
    await this.proc?.stop();
    this.proc = null;
  }

  async kill9(): Promise<void> {
    await this.proc?.kill9();
    this.proc = null;
  }

  /** Runs the `swarm` CLI against this host's daemon (with `input` on its stdin). */
  swarm(...args: string[]): Promise<CliResult> {
    return this.swarmWithInput("", ...args);
  }

  swarmWithInput(input: string, ...args: string[]): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = execFile(process.execPath, [SWARM, "-H", `unix://${this.socket}`, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      child.stdin?.end(input);
    });
  }

  /** Runs the CLI and fails with its output when it exits non-zero. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.swarm(...args);
    if (r.code !== 0) throw new Error(`swarm ${args.join(" ")} on ${this.host.name} exited ${r.code}: ${r.stderr || r.stdout}\n${this.proc?.tail(30) ?? ""}`);
    return r.stdout;
  }

  /** The daemon's Info answer, straight from its socket. */
  info(): Promise<InfoResponse> {
    const client = new DaemonClient(`unix://${this.socket}`, grpc.credentials.createInsecure());
    return new Promise<InfoResponse>((resolve, reject) =>
      client.info({}, new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (err, res) => (err ? reject(err) : resolve(res))),
    ).finally(() => client.close());
  }
}

export class SwarmHosts {
  private constructor(
    readonly net: TestNetwork,
    readonly hosts: SwarmdHost[],
    private readonly dir: string,
  ) {}

  /** `n` hosts, each with a running swarmd not yet in a cluster (and an engine, per `opts.engines`). */
  static async create(n: number, opts: SwarmHostsOptions = {}): Promise<SwarmHosts> {
    const net = await TestNetwork.create({ hosts: n, name: "swarm" });
    const dir = mkdtempSync(path.join(tmpdir(), "swarm-hosts-"));
    const c = new SwarmHosts(net, net.hosts.map((h) => new SwarmdHost(net, h, dir, opts.testHooks)), dir);
    try {
      await Promise.all((opts.engines ?? []).map((i) => c.hosts[i]!.startEngine()));
      await Promise.all(c.hosts.map((h) => h.start()));
    } catch (e) {
      await c.destroy();
      throw e;
    }
    return c;
  }

  /** The last lines of every daemon's log, for failure messages. */
  logs(): string {
    return this.hosts.map((h) => `--- ${h.host.name}\n${h.proc?.tail(40) ?? "(not running)"}`).join("\n");
  }

  /** Rethrows `e` with every daemon's last log lines appended (for `.catch`). */
  readonly withLogs = (e: Error): never => {
    throw new Error(`${e.message}\n${this.logs()}`);
  };

  /** Waits until `on`'s `node ls` satisfies `check` (which throws to say why not yet); fails with every daemon's log. */
  async untilNodes(on: SwarmdHost, what: string, check: (nodes: Awaited<ReturnType<typeof nodeList>>) => void): Promise<void> {
    await waitFor(
      async () => {
        check(await nodeList(on));
        return true;
      },
      { timeoutMs: 30_000, what },
    ).catch(this.withLogs);
  }

  /** Waits until `on`'s tasks of `service` satisfy `check` (which throws to say why not yet); returns them. Fails with the tasks and every daemon's log. */
  async untilTasks(on: SwarmdHost, service: string, what: string, check: (tasks: Task[]) => void, timeoutMs = 60_000): Promise<Task[]> {
    return waitFor(
      async () => {
        const tasks = await tasksOf(on, service);
        try {
          check(tasks);
        } catch (e) {
          throw new Error(`${(e as Error).message}\n${describeTasks(tasks)}`, { cause: e });
        }
        return tasks;
      },
      { timeoutMs, intervalMs: 200, what: `${service}: ${what}` },
    ).catch(this.withLogs);
  }

  /** Stops every swarmd, then every engine (their containers are killed), then the network. */
  async destroy(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.stop().catch(() => undefined)));
    const engines = await Promise.allSettled(this.hosts.map((h) => h.engine?.stop()));
    await this.net.destroy();
    rmSync(this.dir, { recursive: true, force: true });
    const failed = engines.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}

/** Runs `swarm node ls --format json` and returns one object per node. */
export async function nodeList(h: SwarmdHost): Promise<{ ID: string; Hostname: string; Status: string; ManagerStatus: string; Self: boolean }[]> {
  const out = await h.ok("node", "ls", "--format", "{{json .}}");
  return out
    .trim()
    .split("\n")
    .filter((l) => l)
    .map((l) => JSON.parse(l) as { ID: string; Hostname: string; Status: string; ManagerStatus: string; Self: boolean });
}
