// `service rollback [OPTIONS] SERVICE`: asks swarmd to put the service's previous spec back (a
// rollback under the service's rollback config), prints the service as given, then shows the
// rollback until the service converged on the previous spec, unless --detach.
import type { Command } from "commander";
import type { CommandContext } from "../../context.js";
import { waitForConvergence } from "./progress.js";
import { getService } from "./resolve.js";
import { sendServiceUpdate } from "./send-update.js";

/** Adds `service rollback`. */
export function registerRollback(service: Command, ctx: CommandContext): void {
  service
    .command("rollback")
    .description("Revert changes to a service's configuration")
    .usage("[OPTIONS] SERVICE")
    .argument("<service>", "service id or name")
    .option("-d, --detach", "Exit immediately instead of waiting for the service to converge")
    .option("-q, --quiet", "Suppress progress output")
    .action(async (ref: string, flags: { detach?: boolean; quiet?: boolean }) => {
      const s = await ctx.connect();
      const svc = await getService(s, ref);
      await sendServiceUpdate(s, svc, { rollback: true });
      ctx.line(ref);
      if (!flags.detach) await waitForConvergence(ctx, s, svc.id, { quiet: flags.quiet });
    });
}
