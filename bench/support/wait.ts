// Waiting in benches: plain sleeps between measurement windows, and bounded polling on a condition.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wall-clock time in ms since the epoch with sub-ms precision (comparable across processes). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/**
 * Polls `probe` every `everyMs` until it returns something truthy; a thrown error counts as "not
 * yet" and its message is quoted when the time runs out.
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await sleep(everyMs);
  }
}
