// `service ps SERVICE...`: the tasks of the services, history included, in docker's table. Filters:
// id and name (prefixes), node (id, name or `self`), desired-state (running, shutdown, accepted, …).
import type { Command } from "commander";
import { ListTasksRequest_Filters } from "../../../proto/gen/control.js";
import type { Swarmd } from "../../client.js";
import type { CommandContext } from "../../context.js";
import { CliError, CliErrors, FlagValueError } from "../../errors.js";
import { choiceFlag, listFlag, splitKeyValue } from "../../flags.js";
import { isTableFormat, renderList } from "../../output/format.js";
import { TASK_STATES } from "../../words.js";
import { findServices } from "./resolve.js";
import { TASK_LIST, nodeDisplayName, sortTasks, taskRows } from "./task-views.js";

const FILTER_KEYS = ["desired-state", "id", "name", "node"] as const;

/** `--filter` values as ListTasks filters; `self` in node= becomes this node's id. */
async function taskFilters(filters: readonly string[], self: () => Promise<string>): Promise<ListTasksRequest_Filters> {
  const f = ListTasksRequest_Filters.fromPartial({});
  for (const text of filters) {
    if (!text.includes("=")) throw new FlagValueError("--filter", text, "must be key=value");
    const [key, value] = splitKeyValue(text);
    switch (key) {
      case "id":
        f.idPrefixes.push(value);
        break;
      case "name":
        f.namePrefixes.push(value);
        break;
      case "node":
        f.nodeIds.push(value === "self" ? await self() : value);
        break;
      case "desired-state":
        f.desiredStates.push(choiceFlag("--filter", TASK_STATES)(value));
        break;
      default:
        throw new FlagValueError("--filter", text, `unknown filter "${key}": must be one of ${FILTER_KEYS.join(", ")}`);
    }
  }
  return f;
}

interface PsFlags {
  quiet?: boolean;
  /** false with --no-trunc. */
  trunc: boolean;
  /** false with --no-resolve. */
  resolve: boolean;
  filter?: string[];
  format?: string;
}

async function selfId(s: Swarmd): Promise<string> {
  const { nodeId } = await s.daemon.info({});
  if (!nodeId) throw new CliError("this node is not part of a swarm: `self` does not name a node");
  return nodeId;
}

/** Adds `service ps`. */
export function registerPs(service: Command, ctx: CommandContext): void {
  service
    .command("ps")
    .description("List the tasks of one or more services")
    .argument("<service...>", "service id or name")
    .option("-q, --quiet", "Only display task IDs")
    .option("--no-trunc", "Do not truncate output")
    .option("--no-resolve", "Do not map IDs to Names")
    .option("-f, --filter <filter>", "Filter output based on conditions provided (desired-state, id, name, node)", listFlag())
    .option("--format <format>", "Pretty-print tasks using a Go template")
    .action(async (refs: string[], flags: PsFlags) => {
      const filters = await taskFilters(flags.filter ?? [], async () => selfId(await ctx.connect()));
      const s = await ctx.connect();
      const { found, missing } = await findServices(s, refs);
      if (found.length === 0) throw new CliErrors(missing);
      filters.serviceIds = found.map((svc) => svc.id);
      const [{ tasks }, { nodes }] = await Promise.all([s.control.listTasks({ filters }), s.control.listNodes({ filters: undefined })]);
      const serviceNames = new Map(found.map((svc) => [svc.id, flags.resolve ? svc.spec?.annotations?.name || svc.id : svc.id]));
      const sorted = sortTasks(tasks, serviceNames);
      if (flags.quiet) ctx.out(sorted.map((t) => `${t.id}\n`).join(""));
      else {
        const format = flags.format ?? "";
        const rows = taskRows(sorted, {
          noTrunc: !flags.trunc,
          indent: isTableFormat(format, TASK_LIST),
          now: ctx.now(),
          serviceNames,
          nodeNames: new Map(flags.resolve ? nodes.map((n) => [n.id, nodeDisplayName(n)]) : []),
        });
        ctx.out(renderList(format, rows, TASK_LIST));
      }
      if (missing.length > 0) throw new CliErrors(missing);
    });
}
