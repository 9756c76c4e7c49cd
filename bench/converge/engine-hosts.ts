// The docker mode's test hosts: one network namespace each (test/hosts TestNetwork), each with its
// own Docker engine (test/hosts DockerEngine, the test images imported) and a swarmd that runs its
// tasks on that engine. swarmd runs as in production (info logs, the default Raft tick), not with the
// test harness's debug logs and 50 ms tick; and test/swarm/swarm-hosts.ts finds swarmd relative to
// its source folder, which is wrong once compiled into dist/.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { HostProcess } from "../../test/hosts/daemon-process.js";
import { DockerEngine, ensureTestImages } from "../../test/hosts/docker-engine.js";
import { TestNetwork, type TestHost } from "../../test/hosts/network.js";
import { SWARMD_JS } from "../support/local-managers.js";
import { daemonInfo } from "../support/swarmd-api.js";
import { waitFor } from "../support/wait.js";

/** Node flags for every swarmd (BENCH_NODE_FLAGS, e.g. "--cpu-prof --cpu-prof-dir=DIR"). */
const NODE_FLAGS = (process.env["BENCH_NODE_FLAGS"] ?? "").split(" ").filter(Boolean);

export class EngineHost {
  proc: HostProcess | null = null;
  readonly dataDir: string;
  readonly socket: string;

  constructor(
    readonly host: TestHost,
    readonly engine: DockerEngine,
    dir: string,
  ) {
    const home = path.join(dir, host.name);
    mkdirSync(home, { recursive: true });
    this.dataDir = path.join(home, "data");
    this.socket = path.join(home, "swarmd.sock");
  }

  /** Its cluster address (host:port). */
  get addr(): string {
    return `${this.host.address}:2377`;
  }

  async start(net: TestNetwork, logLevel: string): Promise<void> {
    this.proc = HostProcess.start(
      net,
      this.host,
      [
        process.execPath,
        ...NODE_FLAGS,
        SWARMD_JS,
        "--data-dir", this.dataDir,
        "-H", `unix://${this.socket}`,
        "--listen-addr", this.addr,
        "--advertise-addr", this.addr,
        "--hostname", this.host.name,
        "--engine-socket", this.engine.socketPath,
        "--log-level", logLevel,
      ],
      { label: `swarmd ${this.host.name}` },
    );
    await waitFor(`swarmd on ${this.host.name} to answer`, 20_000, () => daemonInfo(this.socket));
  }
}

export class EngineHosts {
  private constructor(
    readonly net: TestNetwork,
    readonly hosts: EngineHost[],
  ) {}

  /** `n` hosts, each with a running engine (test images imported) and a swarmd not yet in a cluster. */
  static async create(n: number, dir: string, logLevel: string): Promise<EngineHosts> {
    const net = await TestNetwork.create({ hosts: n, name: "cvg" });
    const engines: DockerEngine[] = [];
    try {
      await Promise.all(
        net.hosts.map(async (h) => {
          const e = await DockerEngine.start(net, h);
          engines.push(e);
          await ensureTestImages(e.socketPath);
        }),
      );
    } catch (e) {
      await Promise.allSettled(engines.map((x) => x.stop()));
      await net.destroy();
      throw e;
    }
    const hosts = new EngineHosts(net, net.hosts.map((h) => new EngineHost(h, engines.find((e) => e.host === h)!, dir)));
    try {
      await Promise.all(hosts.hosts.map((h) => h.start(net, logLevel)));
    } catch (e) {
      await hosts.destroy();
      throw e;
    }
    return hosts;
  }

  /** The last lines of every swarmd's output, for failure messages. */
  logs(): string {
    return this.hosts.map((h) => h.proc?.tail(30) ?? `--- ${h.host.name} (not running)`).join("\n");
  }

  /** Stops every swarmd, then every engine (their containers are killed), then the network. */
  async destroy(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.proc?.stop().catch(() => undefined)));
    const engines = await Promise.allSettled(this.hosts.map((h) => h.engine.stop()));
    await this.net.destroy();
    const failed = engines.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}
