// One task's container on a Docker engine: create it (or find it, by its node and task labels), start,
// wait, stop, remove, inspect. Every method is idempotent; the container is found again after an agent
// restart, so a second executor adopts it instead of creating another. A fresh task costs the engine
// few calls: create, start, and the inspects that follow its events.
import type { Task } from "../../../proto/gen/objects.js";
import type { ContainerController, ContainerStatus, TaskDependencies } from "../executor.js";
import { containerSpecOf, createContainerBody, stopTimeoutSeconds } from "./create-options.js";
import { EngineApiError, isAbort, type EngineClient, type EngineContainer } from "./engine-client.js";
import { DockerErrorCode, DockerExecutorError, engineFailure, imageNotFound } from "./errors.js";
import type { ContainerEvents, DockerExecutorLogger } from "./events.js";
import { LABEL, containerName, ownedFilter } from "./names.js";
import { containerStatus, hasFinished, isUp } from "./status.js";

/** What a controller shares with its executor. */
export interface ControllerContext {
  client: EngineClient;
  nodeId: string;
  events: ContainerEvents;
  log: DockerExecutorLogger;
}

export class DockerController implements ContainerController {
  /** The container's name: SERVICE.SLOT.TASKID (SERVICE.NODEID.TASKID for global tasks). */
  readonly name: string;
  private containerId: string | null = null;
  /** The container was created by this controller and not started yet. */
  private unstarted = false;
  /** A lookup asked for in this turn and not sent yet. */
  private lookup: Promise<EngineContainer | null> | null = null;
  /** The last lookup's answer, and when it was asked for (ms since the epoch, rounded down). */
  private latest: { askedAtMs: number; container: EngineContainer | null } | null = null;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly task: Task,
    _deps: TaskDependencies,
  ) {
    this.name = containerName(task, ctx.nodeId);
  }

  /**
   * Creates the task's container. Create comes first, as it succeeds almost always: the name is the
   * task's own, so a container a previous agent made answers 409 and is adopted (found by its
   * labels), and an image the engine lacks answers 404 and is pulled, then create runs again. One
   * engine call for a fresh task instead of a lookup, an image inspect and the create.
   */
  async prepare(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.containerId && (await this.find("prepare"))) return; // prepared already
    const body = createContainerBody(this.task, this.ctx.nodeId);
    for (let pulled = false; ; pulled = true) {
      try {
        this.containerId = await this.ctx.client.createContainer(this.name, body);
        this.unstarted = true;
        this.ctx.log.info({ task: this.task.id, container: this.containerId, name: this.name }, "container created");
        return;
      } catch (e) {
        if (e instanceof EngineApiError && e.status === 409 && (await this.find("prepare"))) return; // adopted
        if (e instanceof EngineApiError && e.status === 404 && isMissingImage(e) && !pulled) {
          await this.pull(body.Image, signal);
          signal.throwIfAborted();
          continue;
        }
        if (e instanceof EngineApiError && e.status === 404) throw imageNotFound(body.Image, e);
        throw engineFailure(`create ${this.name}`, e);
      }
    }
  }

  async start(): Promise<void> {
    // A container this controller just created is not running: no need to look first.
    let id = this.unstarted ? this.containerId : null;
    if (id === null) {
      const c = await this.require("start");
      if (c.state.Running) return;
      id = c.id;
    }
    this.unstarted = false;
    try {
      await this.ctx.client.startContainer(id);
    } catch (e) {
      throw engineFailure(`start ${this.name}`, e);
    }
  }

  wait(signal: AbortSignal): Promise<ContainerStatus> {
    return new Promise<ContainerStatus>((resolve, reject) => {
      let done = false;
      const finish = (err: unknown, status?: ContainerStatus): void => {
        if (done) return;
        done = true;
        unwatch();
        signal.removeEventListener("abort", onAbort);
        if (err !== undefined) reject(err);
        else resolve(status!);
      };
      const onAbort = (): void => finish(signal.reason ?? new Error("aborted"));
      const onStatus = (s: ContainerStatus | null): void => {
        if (s === null) finish(new DockerExecutorError(DockerErrorCode.NoContainer, `container ${this.name} was removed`));
        else if (hasFinished(s)) finish(undefined, s);
      };
      // Listen first, then look: an exit between the two is seen either way.
      const unwatch = this.watch(onStatus);
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      this.inspectOrFail("wait").then(onStatus, (e: unknown) => finish(e));
    });
  }

  async shutdown(): Promise<void> {
    const c = await this.find("shutdown");
    if (!c || !isUp(containerStatus(c))) return;
    try {
      await this.ctx.client.stopContainer(c.id, stopTimeoutSeconds(containerSpecOf(this.task)));
    } catch (e) {
      throw engineFailure(`stop ${this.name}`, e);
    }
  }

  async remove(): Promise<void> {
    const c = await this.find("remove");
    if (!c) return;
    try {
      await this.ctx.client.removeContainer(c.id);
    } catch (e) {
      throw engineFailure(`remove ${this.name}`, e);
    }
    this.containerId = null;
  }

  async inspect(): Promise<ContainerStatus | null> {
    const c = await this.find("inspect");
    return c ? containerStatus(c) : null;
  }

  onChange(listener: (status: ContainerStatus) => void): () => void {
    return this.watch((s) => {
      if (s !== null) listener(s);
    });
  }

  private watch(listener: (s: ContainerStatus | null) => void): () => void {
    return this.ctx.events.watch(this.task.id, (sinceMs) => this.statusSince(sinceMs), listener);
  }

  /**
   * The status as read after `sinceMs`: the last lookup's when it was asked for later (after a
   * start, the inspect that follows it already shows the engine's start event), else a new lookup.
   */
  private async statusSince(sinceMs: number): Promise<ContainerStatus | null> {
    const last = this.latest;
    if (last !== null && last.askedAtMs > Math.floor(sinceMs)) return last.container ? containerStatus(last.container) : null;
    return this.inspect();
  }

  private async inspectOrFail(what: string): Promise<ContainerStatus> {
    const c = await this.require(what);
    return containerStatus(c);
  }

  /** The task's container, or a NoContainer error. */
  private async require(what: string): Promise<EngineContainer> {
    const c = await this.find(what);
    if (!c) throw new DockerExecutorError(DockerErrorCode.NoContainer, `${what}: no container for task ${this.task.id} (${this.name})`);
    return c;
  }

  /**
   * The task's container on this node, or null. Lookups asked for in the same turn share one
   * request (after a start, the task's refresh and its wait() both look): each caller still gets an
   * answer read after it asked.
   */
  private find(what: string): Promise<EngineContainer | null> {
    if (this.lookup) return this.lookup;
    const lookup = Promise.resolve().then(() => {
      this.lookup = null;
      return this.findNow(what);
    });
    this.lookup = lookup;
    return lookup;
  }

  /** The task's container on this node (the one remembered, else found by its labels), or null; remembered as the latest answer. */
  private async findNow(what: string): Promise<EngineContainer | null> {
    const askedAtMs = Date.now();
    const c = await this.lookupNow(what);
    if (this.latest === null || this.latest.askedAtMs <= askedAtMs) this.latest = { askedAtMs, container: c };
    return c;
  }

  private async lookupNow(what: string): Promise<EngineContainer | null> {
    const client = this.ctx.client;
    try {
      if (this.containerId) {
        const c = await client.inspectContainer(this.containerId);
        if (c && c.labels[LABEL.taskId] === this.task.id && c.labels[LABEL.nodeId] === this.ctx.nodeId) return c;
        this.containerId = null;
      }
      const found = await client.listContainers(ownedFilter(this.ctx.nodeId, this.task.id));
      for (const s of found) {
        const c = await client.inspectContainer(s.id);
        if (!c) continue;
        this.containerId = c.id;
        return c;
      }
      return null;
    } catch (e) {
      throw engineFailure(what, e);
    }
  }

  /** Pulls an image the engine does not have (create said so). */
  private async pull(image: string, signal: AbortSignal): Promise<void> {
    this.ctx.log.info({ task: this.task.id, image }, "pulling image");
    const registryAuth = containerSpecOf(this.task).pullOptions?.registryAuth;
    try {
      await this.ctx.client.pullImage(image, { ...(registryAuth ? { registryAuth } : {}), signal });
    } catch (e) {
      if (isAbort(e)) throw e;
      if (e instanceof EngineApiError && e.status === undefined) throw engineFailure(`pull ${image}`, e);
      throw imageNotFound(image, e);
    }
  }
}

/** Whether a 404 from create is about the image ("No such image: x"), not a volume or a network. */
function isMissingImage(e: EngineApiError): boolean {
  return /no such image/i.test(e.engineMessage);
}
