// What `service logs` prints before each line: docker's "web.1.abc123def456@node1    | " — the
// service name, the task's slot and (short) id, the node's name, padded so the bars line up for
// up to `padding` digits of slot. Names are looked up once each (ListNodes, GetService, GetTask).
import type { Node } from "../../../proto/gen/objects.js";
import type { LogContext } from "../../../proto/gen/logs.js";
import { isNotFound, type Swarmd } from "../../client.js";
import { shortId } from "./service-views.js";
import { nodeDisplayName } from "./task-views.js";

/** How the prefix is written. */
export interface LogContextOptions {
  /** Map ids to names (false with --no-resolve). */
  resolve: boolean;
  /** Full task ids (--no-trunc). */
  noTrunc: boolean;
  /** Leave the task id out (--no-task-ids). */
  noTaskIds: boolean;
  /** Digits of the largest slot expected (the replica count's), for alignment. */
  padding: number;
}

/** Formats and caches the prefix of each (service, node, task) a log line comes from. */
export class LogContextFormatter {
  private readonly cache = new Map<string, Promise<string>>();
  private nodes: Promise<Node[]> | undefined;
  private readonly serviceNames = new Map<string, Promise<string>>();

  constructor(
    private readonly s: Swarmd,
    private readonly opts: LogContextOptions,
  ) {}

  private async nodeName(id: string): Promise<string> {
    if (!this.opts.resolve) return id;
    this.nodes ??= this.s.control.listNodes({ filters: undefined }).then((r) => r.nodes);
    const node = (await this.nodes).find((n) => n.id === id);
    return node ? nodeDisplayName(node) : id;
  }

  private serviceName(id: string): Promise<string> {
    if (!this.opts.resolve) return Promise.resolve(id);
    let name = this.serviceNames.get(id);
    if (!name) {
      name = this.s.control.getService({ serviceId: id }).then((r) => r.service?.spec?.annotations?.name || id);
      this.serviceNames.set(id, name);
    }
    return name;
  }

  private async slot(taskId: string): Promise<number> {
    try {
      return (await this.s.control.getTask({ taskId })).task?.slot ?? 0;
    } catch (e) {
      if (isNotFound(e)) return 0; // the task is gone already (removed by the reaper)
      throw e;
    }
  }

  private async format(ctx: LogContext): Promise<string> {
    const [service, node, slot] = await Promise.all([this.serviceName(ctx.serviceId), this.nodeName(ctx.nodeId), this.slot(ctx.taskId)]);
    const id = this.opts.noTaskIds ? "" : `.${this.opts.noTrunc ? ctx.taskId : shortId(ctx.taskId)}`;
    const padding = " ".repeat(Math.max(0, this.opts.padding - String(slot).length));
    return `${service}.${slot}${id}@${node}${padding}`;
  }

  /** "web.1.abc123def456@node1" (padded) for a line's context. */
  prefix(ctx: LogContext): Promise<string> {
    const key = `${ctx.serviceId}/${ctx.nodeId}/${ctx.taskId}`;
    let p = this.cache.get(key);
    if (!p) {
      p = this.format(ctx);
      this.cache.set(key, p);
    }
    return p;
  }
}
