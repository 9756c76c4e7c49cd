// Manager `swarmd` processes on loopback, each with its own data dir, local socket and log file
// under a bench's temp dir, formed into one cluster with Init + Join over their local sockets.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { track } from "./children.js";
import { daemonInfo, daemonInit, daemonJoin, LocalControl } from "./swarmd-api.js";
import { waitFor } from "./wait.js";

/** swarmd's entry point, compiled next to this file: dist/bench/support → dist/daemon. */
export const SWARMD_JS = path.join(import.meta.dirname, "../../daemon/main.js");

export interface LocalManagerOptions {
  /** swarmd flags after the ones every manager gets (e.g. ["--executor", "sim"]). */
  swarmdArgs: string[];
  /** Node flags before the script (e.g. ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"]). */
  nodeFlags: string[];
  logLevel: string;
}

export class LocalManager {
  proc: ChildProcess | null = null;
  readonly dataDir: string;
  readonly socket: string;
  readonly logFile: string;
  readonly addr: string;
  raftId = 0;
  nodeId = "";

  constructor(
    readonly index: number,
    dir: string,
    port: number,
  ) {
    const home = path.join(dir, `m${index}`);
    mkdirSync(home, { recursive: true });
    this.dataDir = path.join(home, "data");
    this.socket = path.join(home, "swarmd.sock");
    this.logFile = path.join(home, "swarmd.log");
    this.addr = `127.0.0.1:${port}`;
  }

  get pid(): number {
    return this.proc!.pid!;
  }

  start(opts: LocalManagerOptions): void {
    const fd = openSync(this.logFile, "a");
    const args = [
      ...opts.nodeFlags,
      SWARMD_JS,
      "--data-dir", this.dataDir,
      "-H", `unix://${this.socket}`,
      "--listen-addr", this.addr,
      "--advertise-addr", this.addr,
      "--hostname", `mgr-${this.index}`,
      "--log-level", opts.logLevel,
      ...opts.swarmdArgs,
    ];
    this.proc = track(spawn(process.execPath, args, { stdio: ["ignore", fd, fd] }));
    closeSync(fd);
  }

  /** The last lines of its log, for failure messages. */
  tail(lines = 15): string {
    try {
      return readFileSync(this.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }
}

export interface LocalCluster {
  managers: LocalManager[];
  leader: LocalManager;
  workerToken: string;
  rootCertPem: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The managers made so far by {@link startLocalCluster} (for log tails after a failure). */
const startedManagers: LocalManager[] = [];

/** Starts `count` managers in `dir`, inits the first, joins the others, and waits for every Raft member to be reachable. */
export async function startLocalCluster(dir: string, count: number, opts: LocalManagerOptions): Promise<LocalCluster> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  const managers = [...ports].map((p, i) => new LocalManager(i + 1, dir, p));
  startedManagers.push(...managers);
  for (const m of managers) m.start(opts);
  await Promise.all(managers.map((m) => waitFor(`swarmd m${m.index} to answer`, 30_000, () => daemonInfo(m.socket))));

  const first = managers[0]!;
  const init = await daemonInit(first.socket, first.addr);
  const control = new LocalControl(first.socket);
  const secrets = await control.clusterSecrets().finally(() => control.close());
  for (const m of managers.slice(1)) await daemonJoin(m.socket, first.addr, secrets.managerToken, m.addr);
  const infos = await waitFor(`${count} Raft members with a leader`, 60_000, async () => {
    const is = await Promise.all(managers.map((m) => daemonInfo(m.socket)));
    const ok = is.every((i) => i.raft && i.raft.members.length === count && i.raft.leaderRaftId !== 0 && i.raft.members.every((x) => x.reachable && !x.learner));
    return ok ? is : null;
  });
  managers.forEach((m, i) => {
    m.raftId = infos[i]!.raft!.raftId;
    m.nodeId = infos[i]!.nodeId;
  });
  const leader = managers.find((m) => m.raftId === infos[0]!.raft!.leaderRaftId)!;
  return { managers, leader, workerToken: init.workerToken, rootCertPem: secrets.rootCertPem };
}

/** The last log lines of every manager started, for failure messages. */
export function managerLogTails(): string {
  return startedManagers.map((m) => `--- m${m.index} log tail\n${m.tail()}`).join("\n");
}
