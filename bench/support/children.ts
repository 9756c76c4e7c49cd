// The child processes a bench started itself, so that it stops exactly those (by PID) at the end,
// on failure and on SIGINT/SIGTERM.
import type { ChildProcess } from "node:child_process";

const children = new Set<ChildProcess>();

/** Remembers `child` until it exits. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    process.kill(child.pid, "SIGTERM");
  } catch {
    return;
  }
  const t = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, graceMs);
  await exited;
  clearTimeout(t);
}

/** Stops every tracked child that still runs. */
export async function stopChildren(graceMs: number): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, graceMs)));
}
