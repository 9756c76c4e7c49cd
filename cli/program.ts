// The `swarm` program: global flags, the command groups, and how a run ends — exit code 0, or
// `Error: <message>` lines on stderr and exit code 1 (commander prints its own usage errors).
import { Command, CommanderError } from "commander";
import { DEFAULT_HOST } from "./client.js";
import { registerNodeCommands } from "./commands/node.js";
import { registerServiceCommands } from "./commands/service.js";
import { registerSwarmCommands } from "./commands/swarm.js";
import { CommandContext, type CliIO, type Output } from "./context.js";
import { CliErrors } from "./errors.js";

export type { CliIO } from "./context.js";

/** Adds one group of commands (`node`, `service`, …) to the program. */
export type CommandGroup = (program: Command, ctx: CommandContext) => void;

/** Every command group, in the order `swarm --help` lists them. Add new groups here. */
const COMMAND_GROUPS: readonly CommandGroup[] = [registerSwarmCommands, registerNodeCommands, registerServiceCommands];

/** The real process's streams and environment. */
export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin };
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code, never rejects. */
export async function run(argv: string[], io: CliIO = processIO()): Promise<number> {
  const program = new Command("swarm");
  const ctx = new CommandContext(io, () => program.opts<{ host?: string }>().host || io.env["SWARM_HOST"] || DEFAULT_HOST);
  program
    .description("Manage a swarm cluster through the local swarmd")
    .option("-H, --host <addr>", `swarmd socket to connect to (env SWARM_HOST, default "${DEFAULT_HOST}")`)
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  for (const register of COMMAND_GROUPS) register(program, ctx);
  addUsageHints(program, "swarm");
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (e) {
    return report(e, io.stderr);
  } finally {
    await ctx.close();
  }
}

/** After a usage error, point at the command's help, as docker does. */
function addUsageHints(cmd: Command, path: string): void {
  cmd.showHelpAfterError(`See '${path} --help'.`);
  for (const sub of cmd.commands) addUsageHints(sub, `${path} ${sub.name()}`);
}

/** Prints why the run failed (one line per error) and returns the exit code. */
function report(e: unknown, stderr: Output): number {
  if (e instanceof CommanderError) return e.exitCode; // commander printed the message or help
  const messages = e instanceof CliErrors ? e.messages : [e instanceof Error ? e.message : String(e)];
  for (const m of messages) stderr.write(`Error: ${m}\n`);
  return 1;
}
