// The frame of a bench's main module: a temp dir for its run, and at the end, on failure and on
// SIGINT/SIGTERM alike, the child processes it started stopped by PID and the dir removed. A failure
// is printed with `details()` (e.g. the managers' last log lines) and exits 1.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { stopChildren } from "./children.js";

/** Runs `body` in a fresh temp dir named after `name` ("converge"), then exits (0, or 1 on failure). */
export async function runBenchMain(name: string, body: (dir: string) => Promise<void>, details: () => string = () => ""): Promise<never> {
  const dir = mkdtempSync(path.join(tmpdir(), `bench-${name}-`));
  const cleanup = async (): Promise<void> => {
    await stopChildren(10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (): void => void cleanup().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let failed = false;
  try {
    await body(dir);
  } catch (e) {
    failed = true;
    process.stderr.write(`bench:${name} failed: ${(e as Error).stack ?? String(e)}\n${details()}\n`);
  } finally {
    await cleanup();
  }
  process.exit(failed ? 1 : 0);
}
