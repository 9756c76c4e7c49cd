// `service update [OPTIONS] SERVICE`: reads the service, applies the flags to a copy of its spec
// (update-spec.ts) and sends it with the version read — or, with --rollback, asks for the previous
// spec back — prints the service as given, then shows the update until the service converged,
// the update paused (exit 1, with the reason) or was rolled back (exit 1 once the previous spec
// converged), unless --detach. Every flag value is checked before anything is sent.
import type { Command } from "commander";
import type { Mount } from "../../../proto/gen/types.js";
import type { CommandContext } from "../../context.js";
import { CliError, FlagValueError } from "../../errors.js";
import { collectFlag, keyValueListFlag, listFlag, wordsFlag } from "../../flags.js";
import { checkEnvFlag } from "./env-flags.js";
import { parseMount } from "./mount-flag.js";
import { checkConstraint, parsePlacementPref } from "./placement-flags.js";
import { waitForConvergence } from "./progress.js";
import { parsePublish } from "./publish-flag.js";
import { getService } from "./resolve.js";
import { sendServiceUpdate, type ServiceChange } from "./send-update.js";
import { addSpecOptions } from "./spec-flags.js";
import { updateServiceSpec, type UpdateFlags } from "./update-spec.js";

/** The flags --rollback goes with; any other is refused with it (docker's rule). */
const ROLLBACK_COMPANIONS = new Set(["rollback", "detach", "quiet"]);

/** A flag naming what to remove: a key, name or path, without a value. */
function keyFlag(flag: string, what: string): (value: string, previous: string[] | undefined) => string[] {
  return listFlag((value) => {
    if (value === "" || value.includes("=")) throw new FlagValueError(flag, value, `must be ${what}, without =value`);
  });
}

/** --mount-add: mounts, each target at most once. */
function mountAddFlag(value: string, previous: Mount[] | undefined): Mount[] {
  const mount = parseMount(value, "--mount-add");
  if (previous?.some((m) => m.target === mount.target)) throw new FlagValueError("--mount-add", value, `another --mount-add has the target ${mount.target}`);
  return [...(previous ?? []), mount];
}

function imageFlag(value: string): string {
  if (value.trim() === "") throw new FlagValueError("--image", value, "must be an image reference such as nginx:1.27");
  return value;
}

/** The options given on the command line (not defaults), by attribute name. */
function givenOptions(cmd: Command): string[] {
  return cmd.options.map((o) => o.attributeName()).filter((name) => cmd.getOptionValueSource(name) === "cli");
}

/** Adds `service update`. */
export function registerUpdate(service: Command, ctx: CommandContext): void {
  const update = service
    .command("update")
    .description("Update a service")
    .usage("[OPTIONS] SERVICE")
    .argument("<service>", "service id or name")
    .option("--image <string>", "Service image tag", imageFlag)
    .option("--args <command>", "Service command args", wordsFlag("--args"))
    .option("--rollback", "Rollback to previous specification")
    .option("--force", "Force update even if no changes require it")
    .option("--env-add <list>", "Add or update an environment variable", collectFlag((v) => checkEnvFlag(v, "--env-add")))
    .option("--env-rm <list>", "Remove an environment variable", keyFlag("--env-rm", "a variable name"))
    .option("--label-add <list>", "Add or update a service label", keyValueListFlag("--label-add"))
    .option("--label-rm <list>", "Remove a label by its key", keyFlag("--label-rm", "a label key"))
    .option("--container-label-add <list>", "Add or update a container label", keyValueListFlag("--container-label-add"))
    .option("--container-label-rm <list>", "Remove a container label by its key", keyFlag("--container-label-rm", "a label key"))
    .option("--constraint-add <list>", "Add or update a placement constraint", collectFlag((v) => checkConstraint(v, "--constraint-add")))
    .option("--constraint-rm <list>", "Remove a constraint", collectFlag((v) => checkConstraint(v, "--constraint-rm")))
    .option("--placement-pref-add <pref>", "Add a placement preference", collectFlag((v) => parsePlacementPref(v, "--placement-pref-add")))
    .option("--placement-pref-rm <pref>", "Remove a placement preference", collectFlag((v) => parsePlacementPref(v, "--placement-pref-rm")))
    .option("--mount-add <mount>", "Add or update a mount on a service", mountAddFlag)
    .option("--mount-rm <list>", "Remove a mount by its target path", keyFlag("--mount-rm", "a target path"))
    .option("--publish-add <port>", "Add or update a published port", collectFlag((v) => parsePublish(v, "--publish-add")))
    .option("--publish-rm <port>", "Remove a published port by its target port", collectFlag((v) => parsePublish(v, "--publish-rm")))
    .option("-d, --detach", "Exit immediately instead of waiting for the service to converge")
    .option("-q, --quiet", "Suppress progress output");
  update.configureHelp({ ...update.configureHelp(), sortOptions: true });
  addSpecOptions(update).action(async (ref: string, flags: UpdateFlags, cmd: Command) => {
    if (flags.rollback && givenOptions(cmd).some((name) => !ROLLBACK_COMPANIONS.has(name))) {
      throw new CliError("other flags may not be combined with --rollback");
    }
    const s = await ctx.connect();
    const svc = await getService(s, ref);
    const change: ServiceChange = flags.rollback ? { rollback: true } : { spec: updateServiceSpec(svc.spec, flags, ctx.env) };
    await sendServiceUpdate(s, svc, change);
    ctx.line(ref);
    if (!flags.detach) await waitForConvergence(ctx, s, svc.id, { quiet: flags.quiet, rollbackFails: !flags.rollback });
  });
}
