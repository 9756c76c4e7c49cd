// Bounded polling for the host tests: wait on a condition, never on a fixed sleep. (test/cluster's
// `MemberCluster.waitFor` and manager/raft/transport/test-support's `waitFor` are boolean-only and keep
// no last error; this one returns the condition's value and says what last went wrong.)

export interface WaitOptions {
  timeoutMs: number;
  /** Pause between attempts (default 50 ms). */
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  what: string;
}

/**
 * Calls `fn` until it returns something other than `undefined` or `false`, and returns that. An attempt
 * that throws counts as "not yet"; its error is quoted if the wait times out. An attempt that hangs is cut
 * off by the deadline too.
 */
export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, opts: WaitOptions): Promise<T> {
  const { timeoutMs, intervalMs = 50, what } = opts;
  const deadline = Date.now() + timeoutMs;
  let lastError = "none (the condition did not hold)";
  for (;;) {
    const left = Math.max(1, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    try {
      const attempt = Promise.resolve().then(fn);
      const expired = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), left);
      });
      const r = await Promise.race([attempt, expired]);
      if (r === TIMED_OUT) {
        attempt.catch(() => {});
        lastError = `the last attempt did not finish before the deadline; the one before: ${lastError}`;
        break;
      }
      if (r !== undefined && r !== false) return r as T;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    } finally {
      clearTimeout(timer);
    }
    const pause = Math.min(intervalMs, deadline - Date.now());
    if (pause <= 0) break;
    await new Promise((r) => setTimeout(r, pause));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}; last error: ${lastError}`);
}

const TIMED_OUT: unique symbol = Symbol("timed out");
