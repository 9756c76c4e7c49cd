#!/usr/bin/env node
// swarmd: the daemon every host runs. Parses the command line, starts the local control socket and
// the node (resuming from the data directory), and shuts down cleanly on SIGTERM/SIGINT.
import "reflect-metadata";
import { Command, Option } from "commander";
import { pino } from "pino";
import { Daemon } from "./daemon.js";
import { serveLocalApi } from "./local-api.js";
import { SWARMD_VERSION } from "./version.js";

const program = new Command("swarmd")
  .description("the swarm cluster daemon: runs the agent on every host, and the manager on managers")
  .version(SWARMD_VERSION)
  .option("--data-dir <dir>", "state directory", "/var/lib/swarmd")
  .option("-H, --host <addr>", "local control socket", "unix:///var/run/swarmd.sock")
  .option("--listen-addr <host:port>", "cluster port for managers", "0.0.0.0:2377")
  .option("--advertise-addr <host[:port]>", "address other nodes reach this node at (default: the only non-loopback address)")
  .option("--hostname <name>", "the node's hostname in the cluster (default: the host's)")
  .option("--engine-socket <path>", "the Docker engine's API socket", "/var/run/docker.sock")
  .addOption(new Option("--executor <kind>", "what runs tasks (sim: simulated, for scale tests)").choices(["docker", "sim"]).default("docker"))
  .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"))
  .addOption(new Option("--raft-tick-ms <ms>", "Raft tick (tests)").argParser(Number).hideHelp())
  .addOption(new Option("--raft-election-tick <n>", "Raft election ticks (tests)").argParser(Number).hideHelp())
  .addOption(new Option("--test-hooks", "serve the TestHooks service on the local socket (tests)").hideHelp());

program.parse();
const flags = program.opts<{
  dataDir: string;
  host: string;
  listenAddr: string;
  advertiseAddr?: string;
  hostname?: string;
  engineSocket: string;
  executor: "docker" | "sim";
  logLevel: string;
  raftTickMs?: number;
  raftElectionTick?: number;
  testHooks?: boolean;
}>();

const logger = pino({ level: flags.logLevel, base: { pid: process.pid } });
const daemon = new Daemon({
  dataDir: flags.dataDir,
  listenAddr: flags.listenAddr,
  ...(flags.advertiseAddr ? { advertiseAddr: flags.advertiseAddr } : {}),
  ...(flags.hostname ? { hostname: flags.hostname } : {}),
  engineSocket: flags.engineSocket,
  executor: flags.executor,
  logger,
  version: SWARMD_VERSION,
  ...(flags.raftTickMs ? { tickMs: flags.raftTickMs } : {}),
  ...(flags.raftElectionTick ? { electionTick: flags.raftElectionTick } : {}),
});

async function main(): Promise<void> {
  const local = await serveLocalApi(daemon, flags.host, { testHooks: flags.testHooks === true });
  logger.info({ socket: flags.host, dataDir: flags.dataDir }, "swarmd listening");
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    void daemon
      .stop()
      .catch((e: Error) => logger.error({ err: e.message }, "error while stopping"))
      .finally(() => {
        local.forceShutdown();
        process.exit(0);
      });
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  await daemon.start().catch((e: Error) => logger.error({ err: e.message }, "node did not start; the local API still answers"));
}

main().catch((e: Error) => {
  logger.fatal({ err: e.message }, "swarmd failed to start");
  process.exit(1);
});
