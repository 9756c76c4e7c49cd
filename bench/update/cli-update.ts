// Sends the round's update the way a user does: the `swarm` CLI (compiled next to this file) runs
// `service update --env-add BENCH_ROUND=<n> --update-parallelism 5 --update-delay 0s
// --update-order stop-first <service>` against a manager's local socket, without --detach, so it
// shows progress until the service converged and stayed so for the monitor window (as `docker
// service update` does). Times are ms since the epoch: when the process was spawned, when it printed
// the service's name (UpdateService answered) and when it exited.
import { spawn } from "node:child_process";
import path from "node:path";
import { track } from "../support/children.js";
import { epochMs } from "../support/wait.js";

/** The CLI's entry point: dist/bench/update → dist/cli. */
const SWARM_JS = path.join(import.meta.dirname, "../../cli/main.js");

export interface CliUpdateOptions {
  /** The manager's local socket. */
  socket: string;
  service: string;
  round: number;
  parallelism: number;
  timeoutMs: number;
}

export interface CliRun {
  argv: string[];
  spawnedAtMs: number;
  /** When its first stdout line (the service name, printed once UpdateService answered) arrived; null if none. */
  sentAtMs: number | null;
  exitedAtMs: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The `swarm` arguments of round `round`'s update. */
export function updateArgs(o: CliUpdateOptions): string[] {
  return [
    "-H", `unix://${o.socket}`,
    "service", "update",
    "--env-add", `BENCH_ROUND=${o.round}`,
    "--update-parallelism", String(o.parallelism),
    "--update-delay", "0s",
    "--update-order", "stop-first",
    o.service,
  ];
}

/** Runs the update to its end (killed after `timeoutMs`); never rejects for a non-zero exit. */
export function runCliUpdate(o: CliUpdateOptions): Promise<CliRun> {
  const argv = updateArgs(o);
  const spawnedAtMs = epochMs();
  const child = track(spawn(process.execPath, [SWARM_JS, ...argv], { stdio: ["ignore", "pipe", "pipe"] }));
  let sentAtMs: number | null = null;
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    sentAtMs ??= epochMs();
    stdout += d.toString();
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  let exitedAtMs = 0;
  child.once("exit", () => (exitedAtMs = epochMs()));
  const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs);
  return new Promise((resolve) => {
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ argv, spawnedAtMs, sentAtMs, exitedAtMs: exitedAtMs || epochMs(), code, stdout, stderr });
    });
  });
}
