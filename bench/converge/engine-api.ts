// The few Engine API calls the docker mode makes beyond the test harness's: bounded concurrency,
// status checks, listing by label, force removal, waiting for containers to go, and when a set of
// containers was created and started (the engine's own timestamps).
import { engineRequest } from "../../test/hosts/docker-engine.js";
import { sleep } from "../support/wait.js";

/** Runs `count` jobs, at most `inFlight` at once. */
export async function pool(count: number, inFlight: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

export async function expectStatus(socket: string, method: string, urlPath: string, ok: number[], json?: unknown): Promise<Buffer> {
  const res = await engineRequest(socket, method, urlPath, json === undefined ? { timeoutMs: 120_000 } : { json, timeoutMs: 120_000 });
  if (!ok.includes(res.status)) throw new Error(`${method} ${urlPath} on ${socket}: HTTP ${res.status} ${res.body.toString().trim()} (expected ${ok.join(" or ")})`);
  return res.body;
}

export async function containerIds(socket: string, label: string): Promise<string[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [label] }));
  const list = JSON.parse((await expectStatus(socket, "GET", `/containers/json?all=1&filters=${filters}`, [200])).toString()) as { Id: string }[];
  return list.map((c) => c.Id);
}

/** Force-removes (docker rm -f) every container carrying `label` ("key" or "key=value") on each engine. */
export async function forceRemove(sockets: string[], label: string, inFlightPerEngine: number): Promise<number> {
  let removed = 0;
  await Promise.all(
    sockets.map(async (socket) => {
      const ids = await containerIds(socket, label);
      await pool(ids.length, inFlightPerEngine, async (i) => {
        await expectStatus(socket, "DELETE", `/containers/${ids[i]}?force=1&v=1`, [204, 404]);
        removed++;
      });
    }),
  );
  return removed;
}

/** Polls the engines until no container carries `label`; false when `timeoutMs` passed first. */
export async function untilNoContainers(sockets: string[], label: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const left = await Promise.all(sockets.map((s) => containerIds(s, label)));
    if (left.every((ids) => ids.length === 0)) return true;
    if (Date.now() > until) return false;
    await sleep(500);
  }
}

/** When the first of the containers carrying `label` was created and the last one started (ms since the epoch). */
export async function containerTimes(sockets: string[], label: string, inFlightPerEngine: number): Promise<{ firstCreatedAt: number; lastStartedAt: number }> {
  let firstCreatedAt = Infinity;
  let lastStartedAt = 0;
  await Promise.all(
    sockets.map(async (socket) => {
      const ids = await containerIds(socket, label);
      await pool(ids.length, inFlightPerEngine, async (i) => {
        const c = JSON.parse((await expectStatus(socket, "GET", `/containers/${ids[i]}/json`, [200])).toString()) as { Created: string; State: { StartedAt: string } };
        firstCreatedAt = Math.min(firstCreatedAt, Date.parse(c.Created));
        lastStartedAt = Math.max(lastStartedAt, Date.parse(c.State.StartedAt));
      });
    }),
  );
  return { firstCreatedAt, lastStartedAt };
}
