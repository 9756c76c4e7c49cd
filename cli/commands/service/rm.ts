// `service rm SERVICE...`: removes each service, printing the name given; a failure is reported
// per service (swarmd's message) and the others are still removed.
import type { Command } from "commander";
import type { CommandContext } from "../../context.js";
import { forEachArg } from "./resolve.js";

/** Adds `service rm`. */
export function registerRm(service: Command, ctx: CommandContext): void {
  service
    .command("rm")
    .alias("remove")
    .description("Remove one or more services")
    .argument("<service...>", "service id or name")
    .action(async (refs: string[]) => {
      const s = await ctx.connect();
      await forEachArg(refs, async (ref) => {
        await s.control.removeService({ serviceId: ref });
        ctx.line(ref);
      });
    });
}
