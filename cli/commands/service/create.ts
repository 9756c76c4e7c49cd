// `service create [OPTIONS] IMAGE [COMMAND] [ARG...]`: builds the spec from the flags (every flag
// is checked before anything is sent; without --name the service gets a docker-style random
// name), creates the service, prints its id, then shows its progress until it converges unless
// --detach.
import type { Command } from "commander";
import type { CommandContext } from "../../context.js";
import { CliError } from "../../errors.js";
import { choiceFlag, collectFlag, keyValueListFlag, listFlag } from "../../flags.js";
import { SERVICE_MODES, createServiceSpec, type CreateFlags } from "./create-spec.js";
import { checkEnvFlag } from "./env-flags.js";
import { parseMount } from "./mount-flag.js";
import { checkConstraint, parsePlacementPref } from "./placement-flags.js";
import { waitForConvergence } from "./progress.js";
import { parsePublish } from "./publish-flag.js";
import { randomServiceName } from "./random-name.js";
import { addSpecOptions } from "./spec-flags.js";

/** Adds `service create`. */
export function registerCreate(service: Command, ctx: CommandContext): void {
  const create = service
    .command("create")
    .description("Create a new service")
    .usage("[OPTIONS] IMAGE [COMMAND] [ARG...]")
    .argument("<image>", "image to run")
    .argument("[command...]", "command and arguments")
    .passThroughOptions()
    .option("--name <string>", "Service name")
    .option("--mode <string>", 'Service mode ("replicated", "global", "replicated-job", "global-job")', choiceFlag("--mode", SERVICE_MODES), "replicated")
    .option("-e, --env <list>", "Set environment variables", collectFlag((v) => checkEnvFlag(v)))
    .option("--env-file <list>", "Read in a file of environment variables", listFlag())
    .option("-l, --label <list>", "Service labels", keyValueListFlag("--label"))
    .option("--container-label <list>", "Container labels", keyValueListFlag("--container-label"))
    .option("--constraint <list>", "Placement constraints", collectFlag((v) => checkConstraint(v)))
    .option("--placement-pref <pref>", "Add a placement preference", collectFlag((v) => parsePlacementPref(v)))
    .option("--mount <mount>", "Attach a filesystem mount to the service", collectFlag((v) => parseMount(v)))
    .option("-p, --publish <port>", "Publish a port as a node port", collectFlag((v) => parsePublish(v)))
    .option("-d, --detach", "Exit immediately instead of waiting for the service to converge")
    .option("-q, --quiet", "Suppress progress output");
  create.configureHelp({ ...create.configureHelp(), sortOptions: true });
  addSpecOptions(create).action(async (image: string, args: string[], flags: CreateFlags) => {
    if (image === "") throw new CliError("an image is required");
    const spec = createServiceSpec(image, args, { ...flags, name: flags.name ?? randomServiceName(() => ctx.random()) }, ctx.env);
    const s = await ctx.connect();
    const { service } = await s.control.createService({ spec });
    if (!service) throw new CliError("swarmd returned no service");
    ctx.line(service.id);
    if (!flags.detach) await waitForConvergence(ctx, s, service.id, { quiet: flags.quiet });
  });
}
