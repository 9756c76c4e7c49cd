// `service logs SERVICE|TASK`: subscribes to the Logs service on swarmd's socket and prints each
// line as docker does — "web.1.abc123def456@node1    | line" (stdout lines on stdout, stderr
// lines on stderr), or bare with --raw, after the timestamp with -t. Nodes whose logs are missing
// are reported on stderr as warnings; --follow keeps the stream open.
import { Option, type Command } from "commander";
import type { Service, Task } from "../../../proto/gen/objects.js";
import { LogStream, LogsService, SubscribeLogsRequest } from "../../../proto/gen/logs.js";
import type { TaskSpec } from "../../../proto/gen/specs.js";
import { isNotFound, serverStream, type Swarmd } from "../../client.js";
import type { CommandContext } from "../../context.js";
import { CliError, FlagValueError } from "../../errors.js";
import { DurationSyntaxError, parseDuration } from "../../output/duration.js";
import { LogContextFormatter } from "./log-context.js";

/** `--since` as given: a duration before now, or a point in time. */
export type Since = { ago: number } | { at: number };

/** Parses `--since`: a Go duration ("42m"), Unix seconds ("1736000000.5") or an RFC 3339 date ("2013-01-02T13:23:37Z"). */
export function sinceFlag(value: string): Since {
  try {
    return { ago: parseDuration(value) };
  } catch (e) {
    if (!(e instanceof DurationSyntaxError)) throw e;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return { at: Math.round(Number(value) * 1000) };
  const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) {
    throw new FlagValueError("--since", value, 'must be a timestamp (e.g. "2013-01-02T13:23:37Z"), Unix seconds or a duration (e.g. "42m")');
  }
  return { at };
}

/** Parses `--tail`: "all" (-1) or a number of lines. */
export function tailFlag(value: string): number {
  if (value === "all") return -1;
  if (!/^\d+$/.test(value)) throw new FlagValueError("--tail", value, 'must be a number of lines or "all"');
  return Number(value);
}

interface LogsFlags {
  follow?: boolean;
  tail: number;
  timestamps?: boolean;
  since?: Since;
  /** false with --no-task-ids. */
  taskIds: boolean;
  /** false with --no-trunc. */
  trunc: boolean;
  /** false with --no-resolve. */
  resolve: boolean;
  raw?: boolean;
}

/** The service `target` names, else the task, else "no such task or service". */
async function findTarget(s: Swarmd, target: string): Promise<{ service: Service } | { task: Task }> {
  try {
    const { service } = await s.control.getService({ serviceId: target });
    if (service) return { service };
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  try {
    const { task } = await s.control.getTask({ taskId: target });
    if (task) return { task };
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  throw new CliError(`no such task or service: ${target}`);
}

function usesTty(spec: TaskSpec | undefined): boolean {
  return spec?.runtime?.$case === "container" && spec.runtime.container.tty;
}

/** Adds `service logs`. */
export function registerLogs(service: Command, ctx: CommandContext): void {
  service
    .command("logs")
    .description("Fetch the logs of a service or task")
    .argument("<service|task>", "service or task id or name")
    .option("--no-resolve", "Do not map IDs to Names in output")
    .option("--no-trunc", "Do not truncate output")
    .option("--raw", "Do not neatly format logs")
    .option("--no-task-ids", "Do not include task IDs in output")
    .option("-f, --follow", "Follow log output")
    .option("--since <string>", 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)', sinceFlag)
    .option("-t, --timestamps", "Show timestamps")
    .addOption(new Option("-n, --tail <string>", "Number of lines to show from the end of the logs").argParser(tailFlag).default(-1, '"all"'))
    .action(async (ref: string, flags: LogsFlags) => {
      const s = await ctx.connect();
      const target = await findTarget(s, ref);
      const template = "service" in target ? target.service.spec?.task : target.task.spec;
      if (usesTty(template) && !flags.raw) throw new CliError("tty service logs only supported with --raw");
      const mode = "service" in target ? target.service.spec?.mode : undefined;
      const padding = "task" in target ? String(target.task.slot).length : mode?.$case === "replicated" ? String(mode.replicated.replicas).length : 1;
      const since = flags.since === undefined ? 0 : "ago" in flags.since ? ctx.now() - flags.since.ago : flags.since.at;
      const request = SubscribeLogsRequest.fromPartial({
        selector: "service" in target ? { serviceIds: [target.service.id] } : { taskIds: [target.task.id] },
        options: { follow: flags.follow === true, tail: flags.tail, sinceUnixMs: since },
      });
      const contexts = new LogContextFormatter(s, { resolve: flags.resolve, noTrunc: !flags.trunc, noTaskIds: !flags.taskIds, padding });
      for await (const batch of serverStream(s, LogsService.subscribeLogs, request, { endless: flags.follow })) {
        for (const warning of batch.warnings) ctx.err(`warning: ${warning}\n`);
        for (const m of batch.messages) {
          let line = Buffer.from(m.data).toString("utf8");
          if (!line.endsWith("\n")) line += "\n";
          const stamp = flags.timestamps ? `${m.timestamp} ` : "";
          const prefix = flags.raw || !m.context ? "" : `${await contexts.prefix(m.context)}    | `;
          const text = `${stamp}${prefix}${line}`;
          if (m.stream === LogStream.LOG_STREAM_STDERR) ctx.err(text);
          else ctx.out(text);
        }
      }
    });
}
