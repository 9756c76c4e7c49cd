// The Executor over a Docker engine: describes it, lists this node's containers (found by their
// com.docker.swarm.node.id label), hands out one DockerController per task and reads a task's container
// logs. One events stream per executor feeds every controller's onChange.
import type { Task } from "../../../proto/gen/objects.js";
import { EngineDescription, Platform, Resources } from "../../../proto/gen/types.js";
import type {
  ContainerController,
  ContainerStatus,
  Executor,
  ExecutorDescription,
  LogLine,
  LogReadOptions,
  LogReader,
  TaskDependencies,
} from "../executor.js";
import { DockerController } from "./controller.js";
import { SocketEngineClient, type EngineClient } from "./engine-client.js";
import { DockerErrorCode, DockerExecutorError, engineFailure } from "./errors.js";
import { ContainerEvents, type Backoff, type DockerExecutorLogger } from "./events.js";
import { LABEL, ownedFilter } from "./names.js";
import { readContainerLogs } from "./logs.js";
import { containerStatus } from "./status.js";

/** The engine socket the agent uses unless told otherwise (`--engine-socket`). */
export const DEFAULT_ENGINE_SOCKET = "/var/run/docker.sock";

export interface DockerExecutorOptions {
  /** The engine's unix socket (`--engine-socket`); default /var/run/docker.sock. */
  socketPath?: string;
  /** This node's id: put on every container it creates, and the only containers it touches. */
  nodeId: string;
  logger?: DockerExecutorLogger;
  /** Instead of a dockerode client on `socketPath` (tests). */
  client?: EngineClient;
  /** Reconnect backoff of the events stream (default 100 ms doubling to 5 s). */
  eventsBackoff?: Backoff;
}

const SILENT: DockerExecutorLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** Plugin types reported in the engine description (as Docker Swarm does). */
const PLUGIN_TYPES = new Set(["Volume", "Network", "Authorization", "Log"]);

export class DockerExecutor implements Executor, LogReader {
  readonly nodeId: string;
  readonly socketPath: string;
  private readonly client: EngineClient;
  private readonly events: ContainerEvents;
  private readonly log: DockerExecutorLogger;
  private closed = false;

  constructor(opts: DockerExecutorOptions) {
    if (!opts.nodeId) throw new Error("DockerExecutor needs a node id");
    this.nodeId = opts.nodeId;
    this.socketPath = opts.socketPath ?? DEFAULT_ENGINE_SOCKET;
    this.client = opts.client ?? new SocketEngineClient(this.socketPath);
    this.log = opts.logger ?? SILENT;
    this.events = new ContainerEvents(this.client, this.nodeId, this.log, opts.eventsBackoff);
  }

  async describe(): Promise<ExecutorDescription> {
    this.checkOpen();
    try {
      const [version, info] = await Promise.all([this.client.version(), this.client.info()]);
      const labels: Record<string, string> = {};
      for (const l of info.labels) {
        const eq = l.indexOf("=");
        if (eq > 0) labels[l.slice(0, eq)] = l.slice(eq + 1);
        else if (l) labels[l] = "";
      }
      const seen = new Set<string>();
      const plugins = info.plugins.filter((p) => {
        const key = `${p.type}/${p.name}`;
        if (!PLUGIN_TYPES.has(p.type) || seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      return {
        engine: EngineDescription.fromPartial({ engineVersion: version.version, labels, plugins }),
        resources: Resources.fromPartial({ nanoCpus: info.ncpu * 1_000_000_000, memoryBytes: info.memTotalBytes }),
        platform: Platform.fromPartial({ os: version.os, architecture: version.arch }),
      };
    } catch (e) {
      throw engineFailure("describe the engine", e);
    }
  }

  controller(task: Task, deps: TaskDependencies): ContainerController {
    this.checkOpen();
    return new DockerController({ client: this.client, nodeId: this.nodeId, events: this.events, log: this.log }, task, deps);
  }

  async owned(): Promise<Map<string, ContainerStatus>> {
    this.checkOpen();
    const out = new Map<string, ContainerStatus>();
    try {
      const list = await this.client.listContainers(ownedFilter(this.nodeId));
      const inspected = await Promise.all(list.map((c) => this.client.inspectContainer(c.id)));
      for (const c of inspected) {
        const taskId = c?.labels[LABEL.taskId];
        // The engine filtered on the node label; check again, never touch anyone else's container.
        if (!c || !taskId || c.labels[LABEL.nodeId] !== this.nodeId) continue;
        out.set(taskId, containerStatus(c));
      }
    } catch (e) {
      throw engineFailure("list this node's containers", e);
    }
    return out;
  }

  logs(task: Task, options: LogReadOptions, signal: AbortSignal): AsyncIterable<LogLine> {
    this.checkOpen();
    return readContainerLogs(this.client, this.nodeId, task.id, options, signal);
  }

  /** Resolves once the engine's events stream is connected (it starts with the first onChange). */
  eventsConnected(): Promise<void> {
    return this.events.connected();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.events.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new DockerExecutorError(DockerErrorCode.Closed, "the docker executor is closed");
  }
}
