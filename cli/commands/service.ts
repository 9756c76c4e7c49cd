// `swarm service …`: create, ls, ps, inspect, update, rollback, scale, rm and logs (each in
// commands/service/).
// The group turns on positional options so that `create IMAGE COMMAND -x` passes `-x` to the
// container's command instead of reading it as a flag, as docker does.
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { registerCreate } from "./service/create.js";
import { registerInspect } from "./service/inspect.js";
import { registerLogs } from "./service/logs.js";
import { registerLs } from "./service/ls.js";
import { registerPs } from "./service/ps.js";
import { registerRm } from "./service/rm.js";
import { registerRollback } from "./service/rollback.js";
import { registerScale } from "./service/scale.js";
import { registerUpdate } from "./service/update.js";

/** Adds `service` and its subcommands. */
export function registerServiceCommands(program: Command, ctx: CommandContext): void {
  const service = program.command("service").description("Manage swarm services").enablePositionalOptions();
  for (const register of [
    registerCreate,
    registerInspect,
    registerLogs,
    registerLs,
    registerPs,
    registerRm,
    registerRollback,
    registerScale,
    registerUpdate,
  ]) register(service, ctx);
}
