// `service scale SERVICE=REPLICAS...`: sets the replicas of replicated services (the completions of
// replicated jobs) with the version read (send-update.ts), prints "web scaled to 5", then shows each one converging
// unless --detach. Every argument is checked before anything is sent; failures are reported per
// service and the others go on.
import type { Command } from "commander";
import { ServiceSpec } from "../../../proto/gen/specs.js";
import type { Swarmd } from "../../client.js";
import type { CommandContext } from "../../context.js";
import { CliError, CliErrors } from "../../errors.js";
import { waitForConvergence } from "./progress.js";
import { getService } from "./resolve.js";
import { sendServiceUpdate } from "./send-update.js";

/** "web=5" → ["web", 5]; throws CliError for anything else. */
export function parseScaleArg(arg: string): [string, number] {
  const eq = arg.indexOf("=");
  const [ref, count] = eq === -1 ? [arg, ""] : [arg.slice(0, eq), arg.slice(eq + 1)];
  if (ref === "" || count === "") throw new CliError(`invalid scale specifier '${arg}': must be SERVICE=REPLICAS`);
  if (!/^\d+$/.test(count) || !Number.isSafeInteger(Number(count))) {
    throw new CliError(`${ref}: invalid replicas value ${count}: must be a non-negative integer`);
  }
  return [ref, Number(count)];
}

/** Records a failure about one service: every message prefixed with it ("web: …"). */
function recordFailure(failures: string[], ref: string, e: unknown): void {
  if (!(e instanceof CliError)) throw e;
  failures.push(...(e instanceof CliErrors ? e.messages : [e.message]).map((m) => `${ref}: ${m}`));
}

/** Sets the replicas (or a job's completions) of the service `ref` names; returns its id. */
async function scaleService(s: Swarmd, ref: string, count: number): Promise<string> {
  const svc = await getService(s, ref);
  const spec = ServiceSpec.fromPartial(svc.spec ?? {});
  const mode = spec.mode;
  if (mode?.$case === "replicated") mode.replicated.replicas = count;
  else if (mode?.$case === "replicatedJob") mode.replicatedJob.totalCompletions = count;
  else throw new CliError("scale can only be used with replicated or replicated-job mode");
  await sendServiceUpdate(s, svc, { spec });
  return svc.id;
}

/** Adds `service scale`. */
export function registerScale(service: Command, ctx: CommandContext): void {
  service
    .command("scale")
    .description("Scale one or multiple replicated services")
    .usage("SERVICE=REPLICAS [SERVICE=REPLICAS...]")
    .argument("<service=replicas...>", "service id or name and its number of tasks")
    .option("-d, --detach", "Exit immediately instead of waiting for the service to converge")
    .action(async (args: string[], flags: { detach?: boolean }) => {
      const wanted = args.map(parseScaleArg);
      const s = await ctx.connect();
      const failures: string[] = [];
      const scaled: { ref: string; id: string }[] = [];
      for (const [ref, count] of wanted) {
        try {
          scaled.push({ ref, id: await scaleService(s, ref, count) });
          ctx.line(`${ref} scaled to ${count}`);
        } catch (e) {
          recordFailure(failures, ref, e);
        }
      }
      if (!flags.detach) {
        for (const { ref, id } of scaled) await waitForConvergence(ctx, s, id).catch((e: unknown) => recordFailure(failures, ref, e));
      }
      if (failures.length > 0) throw new CliErrors(failures);
    });
}
