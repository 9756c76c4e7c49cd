// `service inspect [--pretty] SERVICE...`: docker's JSON (an indented array of swarm.Service
// shapes), a --format template over the same shape, or --pretty. Services that are not found are
// reported after the ones that are printed (exit 1).
import type { Command } from "commander";
import type { Service } from "../../../proto/gen/objects.js";
import type { CommandContext } from "../../context.js";
import { CliError } from "../../errors.js";
import { renderInspect } from "../../output/format.js";
import { prettyService } from "./inspect-pretty.js";
import { serviceView } from "./inspect-view.js";
import { forEachArg, getService } from "./resolve.js";

/** Adds `service inspect`. */
export function registerInspect(service: Command, ctx: CommandContext): void {
  service
    .command("inspect")
    .description("Display detailed information on one or more services")
    .argument("<service...>", "service id or name")
    .option("-f, --format <format>", "Format output using a custom template: 'json' or a Go template")
    .option("--pretty", "Print the information in a human friendly format")
    .action(async (refs: string[], flags: { format?: string; pretty?: boolean }) => {
      if (flags.pretty && flags.format) throw new CliError("--format is incompatible with human friendly format");
      const s = await ctx.connect();
      const found: Service[] = [];
      try {
        await forEachArg(refs, async (ref) => {
          found.push(await getService(s, ref));
        });
      } finally {
        if (flags.pretty) ctx.out(found.map((svc) => prettyService(svc, ctx.now())).join(""));
        else {
          const views = found.map(serviceView);
          ctx.out(renderInspect(flags.format ?? "", views, views));
        }
      }
    });
}
