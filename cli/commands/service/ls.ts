// `service ls`: the services, sorted by name, with their running/desired tasks (counted from
// ListTasks, as docker's daemon counts them). Filters: id and name (prefixes), label, and mode.
import type { Command } from "commander";
import { ListServicesRequest_Filters, ListTasksRequest_Filters } from "../../../proto/gen/control.js";
import type { CommandContext } from "../../context.js";
import { FlagValueError } from "../../errors.js";
import { listFlag, splitKeyValue } from "../../flags.js";
import { renderList } from "../../output/format.js";
import { naturalCompare } from "../../output/natural-sort.js";
import { SERVICE_MODES } from "./create-spec.js";
import { SERVICE_LIST, serviceRow } from "./service-views.js";

const FILTER_KEYS = ["id", "label", "mode", "name"] as const;

/** `--filter` values as ListServices filters plus the modes (filtered here: ListServices has no mode filter). */
export function serviceFilters(filters: readonly string[]): { request: ListServicesRequest_Filters; modes: string[] } {
  const request = ListServicesRequest_Filters.fromPartial({});
  const modes: string[] = [];
  for (const text of filters) {
    if (!text.includes("=")) throw new FlagValueError("--filter", text, "must be key=value");
    const [key, value] = splitKeyValue(text);
    switch (key) {
      case "id":
        request.idPrefixes.push(value);
        break;
      case "name":
        request.namePrefixes.push(value);
        break;
      case "label":
        request.labels.push(value);
        break;
      case "mode":
        if (!Object.hasOwn(SERVICE_MODES, value)) throw new FlagValueError("--filter", text, `mode must be one of ${Object.keys(SERVICE_MODES).join(", ")}`);
        modes.push(SERVICE_MODES[value as keyof typeof SERVICE_MODES]);
        break;
      default:
        throw new FlagValueError("--filter", text, `unknown filter "${key}": must be one of ${FILTER_KEYS.join(", ")}`);
    }
  }
  return { request, modes };
}

/** Adds `service ls`. */
export function registerLs(service: Command, ctx: CommandContext): void {
  service
    .command("ls")
    .alias("list")
    .description("List services")
    .option("-q, --quiet", "Only display IDs")
    .option("-f, --filter <filter>", "Filter output based on conditions provided (id, label, mode, name)", listFlag())
    .option("--format <format>", "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .action(async (flags: { quiet?: boolean; filter?: string[]; format?: string }) => {
      const { request, modes } = serviceFilters(flags.filter ?? []);
      const s = await ctx.connect();
      const listed = (await s.control.listServices({ filters: request })).services;
      const services = listed
        .filter((svc) => modes.length === 0 || modes.includes(svc.spec?.mode?.$case ?? ""))
        .sort((a, b) => naturalCompare(a.spec?.annotations?.name ?? "", b.spec?.annotations?.name ?? ""));
      if (flags.quiet) return ctx.out(services.map((svc) => `${svc.id}\n`).join(""));
      const { tasks } =
        services.length === 0
          ? { tasks: [] }
          : await s.control.listTasks({ filters: ListTasksRequest_Filters.fromPartial({ serviceIds: services.map((svc) => svc.id) }) });
      ctx.out(
        renderList(
          flags.format ?? "",
          services.map((svc) => serviceRow(svc, tasks)),
          SERVICE_LIST,
        ),
      );
    });
}
