// A task's container logs from the engine: find the container by this node's and the task's labels,
// open GET /containers/{id}/logs with timestamps and turn the body into log lines. A task without a
// container has no logs; a container removed while being read ends its logs.
import type { LogLine, LogReadOptions } from "../executor.js";
import { EngineApiError, isAbort, type EngineClient, type EngineContainer, type EngineLogsQuery } from "./engine-client.js";
import { engineFailure } from "./errors.js";
import { LABEL, ownedFilter } from "./names.js";
import { LogStreamParser } from "./log-stream.js";

/** The engine's query for `options`. */
export function logsQuery(options: LogReadOptions): EngineLogsQuery {
  const all = options.streams.length === 0;
  return {
    stdout: all || options.streams.includes("stdout"),
    stderr: all || options.streams.includes("stderr"),
    follow: options.follow,
    tail: options.tail < 0 ? "all" : String(Math.floor(options.tail)),
    since: options.sinceUnixMs > 0 ? (options.sinceUnixMs / 1000).toFixed(3) : "0",
  };
}

/** This node's container of the task, or null. */
async function findContainer(client: EngineClient, nodeId: string, taskId: string): Promise<EngineContainer | null> {
  for (const s of await client.listContainers(ownedFilter(nodeId, taskId))) {
    const c = await client.inspectContainer(s.id);
    if (c && c.labels[LABEL.nodeId] === nodeId && c.labels[LABEL.taskId] === taskId) return c;
  }
  return null;
}

/** The task's container logs (see the file comment); rejects with a DockerExecutorError when the engine fails. */
export async function* readContainerLogs(
  client: EngineClient,
  nodeId: string,
  taskId: string,
  options: LogReadOptions,
  signal: AbortSignal,
): AsyncGenerator<LogLine> {
  const what = `logs of task ${taskId}`;
  let body: AsyncIterable<Buffer>;
  let parser: LogStreamParser;
  try {
    const c = await findContainer(client, nodeId, taskId);
    if (!c || signal.aborted) return;
    parser = new LogStreamParser(c.tty === true);
    body = await client.containerLogs(c.id, logsQuery(options), signal);
  } catch (e) {
    if (signal.aborted || (e instanceof EngineApiError && e.status === 404)) return;
    throw engineFailure(what, e);
  }
  try {
    for await (const chunk of body) yield* parser.push(chunk);
    yield* parser.end();
  } catch (e) {
    if (signal.aborted || isAbort(e)) return;
    throw engineFailure(what, e);
  }
}
