// Cluster membership and settings: init, join, join-token, leave, unlock, unlock-key, update, info.
// Output follows `docker swarm …` word for word, with `swarm` in place of `docker swarm`.
import type { Command } from "commander";
import { LocalNodeState } from "../../proto/gen/daemon.js";
import type { Cluster } from "../../proto/gen/objects.js";
import { ClusterSpec } from "../../proto/gen/specs.js";
import { CAConfig, DispatcherConfig, EncryptionConfig, NodeAvailability, NodeRole, OrchestrationConfig } from "../../proto/gen/types.js";
import type { ControlApi } from "../client.js";
import type { CommandContext, InputStream } from "../context.js";
import { CliError } from "../errors.js";
import { boolFlag, choiceFlag, durationFlag, intFlag } from "../flags.js";
import { AVAILABILITIES } from "../words.js";
import { renderInfo } from "./info-view.js";

/** The cluster port managers listen on unless told otherwise. */
export const DEFAULT_CLUSTER_PORT = 2377;

type Role = "worker" | "manager";

/** `host` with `:port` appended when it has none ("10.0.0.1" → "10.0.0.1:2377", IPv6 bracketed). */
export function withDefaultPort(host: string, port = DEFAULT_CLUSTER_PORT): string {
  if (host.startsWith("[")) return host.includes("]:") ? host : `${host}:${port}`;
  const colons = host.split(":").length - 1;
  if (colons === 1) return host;
  return colons > 1 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The join hint docker prints after init and for join-token. */
export function joinCommandText(role: Role, token: string, addr: string): string {
  return `To add a ${role} to this swarm, run the following command:\n\n    swarm join --token ${token} ${addr}\n\n`;
}

/** The unlock-key paragraph docker prints after init/update --autolock and for unlock-key. */
export function unlockKeyText(key: string): string {
  return (
    "To unlock a swarm manager after it restarts, run the `swarm unlock`\n" +
    "command and provide the following key:\n\n" +
    `    ${key}\n\n` +
    "Remember to store this key in a password manager, since without it you\n" +
    "will not be able to restart the manager.\n"
  );
}

/** The cluster object (there is exactly one). */
async function readCluster(control: ControlApi): Promise<Cluster> {
  const { clusters } = await control.listClusters({ filters: undefined });
  const cluster = clusters[0];
  if (!cluster) throw new CliError("swarmd returned no cluster object: is the cluster still starting?");
  return cluster;
}

/** UpdateCluster with the cluster's current version and `spec`, rotating what `rotation` names. */
async function updateCluster(
  control: ControlApi,
  cluster: Cluster,
  spec: ClusterSpec | undefined,
  rotation: { workerJoinToken?: boolean; managerJoinToken?: boolean; managerUnlockKey?: boolean } = {},
): Promise<Cluster> {
  const { cluster: updated } = await control.updateCluster({
    clusterId: cluster.id,
    clusterVersion: cluster.meta?.version,
    spec,
    rotation: { workerJoinToken: false, managerJoinToken: false, managerUnlockKey: false, ...rotation },
  });
  return updated ?? cluster;
}

/** Reads the unlock key typed or piped on stdin (first line, trimmed); prompts on a terminal. */
async function readUnlockKey(ctx: CommandContext): Promise<string> {
  const stdin = ctx.stdin;
  if (stdin.isTTY) ctx.out("Enter unlock key: ");
  const line = await readLine(stdin);
  return line.trim();
}

function readLine(stream: InputStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const done = (): void => {
      stream.off("data", onData);
      stream.off("end", done);
      stream.off("error", onError);
      stream.pause();
      const nl = text.indexOf("\n");
      resolve(nl === -1 ? text : text.slice(0, nl));
    };
    const onData = (chunk: Buffer | string): void => {
      text += chunk.toString();
      if (text.includes("\n")) done();
    };
    const onError = (e: Error): void => reject(new CliError(`cannot read the unlock key from stdin: ${e.message}`));
    stream.on("data", onData);
    stream.on("end", done);
    stream.on("error", onError);
    stream.resume();
  });
}

interface InitFlags {
  advertiseAddr?: string;
  listenAddr?: string;
  autolock?: boolean;
  certExpiry?: number;
  forceNewCluster?: boolean;
  taskHistoryLimit?: number;
  dispatcherHeartbeat?: number;
}

interface JoinFlags {
  token: string;
  advertiseAddr?: string;
  listenAddr?: string;
  availability?: NodeAvailability;
}

interface UpdateFlags {
  autolock?: boolean;
  certExpiry?: number;
  taskHistoryLimit?: number;
  dispatcherHeartbeat?: number;
}

const CERT_EXPIRY_HELP = "Validity period for node certificates (ns|us|ms|s|m|h) (default 2160h0m0s)";
const HEARTBEAT_HELP = "Dispatcher heartbeat period (ns|us|ms|s|m|h) (default 5s)";
const HISTORY_HELP = "Task history retention limit (default 5)";

/** Adds init, join, join-token, leave, unlock, unlock-key, update and info. */
export function registerSwarmCommands(program: Command, ctx: CommandContext): void {
  program
    .command("init")
    .description("Initialize a swarm with this node as its first manager")
    .option("--advertise-addr <addr>", "Advertised address (format: <ip|interface>[:port])")
    .option("--listen-addr <addr>", 'Listen address (format: <ip|interface>[:port]) (default "0.0.0.0:2377")')
    .option("--autolock", "Enable manager autolocking (requiring an unlock key to start a stopped manager)")
    .option("--cert-expiry <duration>", CERT_EXPIRY_HELP, durationFlag("--cert-expiry", { min: 0 }))
    .option("--force-new-cluster", "Force create a new cluster from current state")
    .option("--task-history-limit <n>", HISTORY_HELP, intFlag("--task-history-limit"))
    .option("--dispatcher-heartbeat <duration>", HEARTBEAT_HELP, durationFlag("--dispatcher-heartbeat", { min: 0 }))
    .action(async (flags: InitFlags) => {
      const { daemon } = await ctx.connect();
      const res = await daemon.init({
        advertiseAddr: flags.advertiseAddr ?? "",
        listenAddr: flags.listenAddr ?? "",
        autolock: flags.autolock ?? false,
        certExpiryMs: flags.certExpiry ?? 0,
        forceNewCluster: flags.forceNewCluster ?? false,
        taskHistoryLimit: flags.taskHistoryLimit,
        dispatcherHeartbeatMs: flags.dispatcherHeartbeat ?? 0,
      });
      ctx.out(`Swarm initialized: current node (${res.nodeId}) is now a manager.\n\n`);
      ctx.out(joinCommandText("worker", res.workerToken, withDefaultPort(res.advertiseAddr)));
      ctx.out("To add a manager to this swarm, run 'swarm join-token manager' and follow the instructions.\n\n");
      if (res.unlockKey) ctx.out(unlockKeyText(res.unlockKey));
    });

  program
    .command("join")
    .description("Join a swarm as a node and/or manager")
    .argument("<host:port>", "address of a manager of the swarm")
    .requiredOption("--token <token>", "Token for entry into the swarm")
    .option("--advertise-addr <addr>", "Advertised address (format: <ip|interface>[:port])")
    .option("--listen-addr <addr>", 'Listen address (format: <ip|interface>[:port]) (default "0.0.0.0:2377")')
    .option("--availability <state>", 'Availability of the node ("active", "pause", "drain") (default "active")', choiceFlag("--availability", AVAILABILITIES))
    .action(async (remoteAddr: string, flags: JoinFlags) => {
      const { daemon } = await ctx.connect();
      const res = await daemon.join({
        token: flags.token,
        remoteAddr,
        advertiseAddr: flags.advertiseAddr ?? "",
        listenAddr: flags.listenAddr ?? "",
        availability: flags.availability ?? NodeAvailability.NODE_AVAILABILITY_ACTIVE,
      });
      ctx.line(`This node joined a swarm as a ${res.role === NodeRole.NODE_ROLE_MANAGER ? "manager" : "worker"}.`);
    });

  program
    .command("join-token")
    .description("Manage join tokens")
    .argument("<worker|manager>", "the role the token admits")
    .option("-q, --quiet", "Only display token")
    .option("--rotate", "Rotate join token")
    .action(async (roleArg: string, flags: { quiet?: boolean; rotate?: boolean }) => {
      if (roleArg !== "worker" && roleArg !== "manager") throw new CliError(`unknown role "${roleArg}": must be one of worker, manager`);
      const role: Role = roleArg;
      const { control, daemon } = await ctx.connect();
      let cluster = await readCluster(control);
      if (flags.rotate) {
        cluster = await updateCluster(control, cluster, cluster.spec, role === "worker" ? { workerJoinToken: true } : { managerJoinToken: true });
        if (!flags.quiet) ctx.out(`Successfully rotated ${role} join token.\n\n`);
      }
      const token = role === "worker" ? cluster.rootCa?.joinTokens?.worker : cluster.rootCa?.joinTokens?.manager;
      if (!token) throw new CliError(`the cluster has no ${role} join token`);
      if (flags.quiet) return ctx.line(token);
      const info = await daemon.info({});
      ctx.out(joinCommandText(role, token, withDefaultPort(info.nodeAddr)));
    });

  program
    .command("leave")
    .description("Leave the swarm")
    .option("-f, --force", "Force this node to leave the swarm, ignoring warnings")
    .action(async (flags: { force?: boolean }) => {
      const { daemon } = await ctx.connect();
      await daemon.leave({ force: flags.force ?? false });
      ctx.line("Node left the swarm.");
    });

  program
    .command("unlock")
    .description("Unlock swarm (the key is read from stdin)")
    .action(async () => {
      const { daemon } = await ctx.connect();
      const key = await readUnlockKey(ctx);
      if (key === "") throw new CliError("no unlock key given on stdin");
      await daemon.unlock({ unlockKey: key });
    });

  program
    .command("unlock-key")
    .description("Manage the unlock key")
    .option("-q, --quiet", "Only display token")
    .option("--rotate", "Rotate unlock key")
    .action(async (flags: { quiet?: boolean; rotate?: boolean }) => {
      const { control } = await ctx.connect();
      if (flags.rotate) {
        const cluster = await readCluster(control);
        if (!cluster.spec?.encryptionConfig?.autoLockManagers) throw new CliError("cannot rotate because autolock is not turned on");
        await updateCluster(control, cluster, cluster.spec, { managerUnlockKey: true });
        if (!flags.quiet) ctx.out("Successfully rotated manager unlock key.\n\n");
      }
      const { unlockKey } = await control.getUnlockKey({});
      if (!unlockKey) throw new CliError("no unlock key is set");
      if (flags.quiet) return ctx.line(unlockKey);
      ctx.out(unlockKeyText(unlockKey));
    });

  program
    .command("update")
    .description("Update the swarm")
    .option("--autolock [bool]", "Change manager autolocking setting (true|false)", boolFlag("--autolock"))
    .option("--cert-expiry <duration>", CERT_EXPIRY_HELP, durationFlag("--cert-expiry", { min: 0 }))
    .option("--task-history-limit <n>", HISTORY_HELP, intFlag("--task-history-limit"))
    .option("--dispatcher-heartbeat <duration>", HEARTBEAT_HELP, durationFlag("--dispatcher-heartbeat", { min: 0 }))
    .action(async (flags: UpdateFlags) => {
      const { control } = await ctx.connect();
      const cluster = await readCluster(control);
      const spec = ClusterSpec.fromPartial(cluster.spec ?? {});
      const wasLocked = spec.encryptionConfig?.autoLockManagers ?? false;
      if (flags.autolock !== undefined) {
        spec.encryptionConfig = EncryptionConfig.fromPartial({ ...spec.encryptionConfig, autoLockManagers: flags.autolock });
      }
      if (flags.certExpiry !== undefined) spec.caConfig = CAConfig.fromPartial({ ...spec.caConfig, nodeCertExpiryMs: flags.certExpiry });
      if (flags.taskHistoryLimit !== undefined) {
        spec.orchestration = OrchestrationConfig.fromPartial({ ...spec.orchestration, taskHistoryRetentionLimit: flags.taskHistoryLimit });
      }
      if (flags.dispatcherHeartbeat !== undefined) {
        spec.dispatcher = DispatcherConfig.fromPartial({ ...spec.dispatcher, heartbeatPeriodMs: flags.dispatcherHeartbeat });
      }
      await updateCluster(control, cluster, spec);
      ctx.line("Swarm updated.");
      if (!wasLocked && flags.autolock === true) {
        const { unlockKey } = await control.getUnlockKey({});
        if (unlockKey) ctx.out(unlockKeyText(unlockKey));
      }
    });

  program
    .command("info")
    .description("Display this node's view of the swarm")
    .option("-f, --format <format>", "Format output using a custom template: 'json' or a Go template")
    .action(async (flags: { format?: string }) => {
      const { daemon, control } = await ctx.connect();
      const info = await daemon.info({});
      // The cluster's settings, as docker shows them; only a manager can read them.
      // Best effort: without a leader the node's own view is still worth showing.
      const isActiveManager = info.role === NodeRole.NODE_ROLE_MANAGER && info.state === LocalNodeState.LOCAL_NODE_STATE_ACTIVE;
      const cluster = isActiveManager ? await readCluster(control).catch(() => undefined) : undefined;
      ctx.out(renderInfo(info, cluster, flags.format ?? "", ctx.now()));
    });
}
