// The engines' floor for a round: the same container work done straight through the engines' APIs,
// with no control plane. Untimed, each engine gets its share of the replicas as "old" containers
// (created and started); timed, each engine replaces them `inFlightPerEngine` at a time (the
// update's parallelism spread over the engines): stop the old one (SIGTERM, it exits at once) while the new one is created
// and started — as the stop-first update here does, which does not wait for the old container to
// stop. Then everything it made is force-removed.
import { expectStatus, forceRemove, pool } from "../converge/engine-api.js";

/** The label of every container the floor makes, so that it removes exactly those. */
const FLOOR_LABEL = "bench.update.floor";
const STOP_TIMEOUT_S = 10;

export interface FloorRun {
  sockets: readonly string[];
  containers: number;
  image: string;
  command: readonly string[];
  /** Replacements in flight per engine (the update's parallelism over the engines). */
  inFlightPerEngine: number;
  /** Distinguishes this run's container names. */
  run: number;
}

async function createAndStart(socket: string, name: string, r: FloorRun): Promise<string> {
  const body = {
    Image: r.image,
    Entrypoint: r.command,
    Labels: { [FLOOR_LABEL]: String(r.run) },
    HostConfig: { NetworkMode: "none", RestartPolicy: { Name: "no" } },
  };
  const created = JSON.parse((await expectStatus(socket, "POST", `/containers/create?name=${name}`, [201], body)).toString()) as { Id: string };
  await expectStatus(socket, "POST", `/containers/${created.Id}/start`, [204]);
  return created.Id;
}

/** Seconds the timed replacements took. */
export async function replaceDirect(r: FloorRun): Promise<number> {
  const perEngine = r.sockets.map((_, e) => Math.floor(r.containers / r.sockets.length) + (e < r.containers % r.sockets.length ? 1 : 0));
  const old = await Promise.all(
    r.sockets.map(async (socket, e) => {
      const ids: string[] = [];
      await pool(perEngine[e]!, 1, async (i) => void ids.push(await createAndStart(socket, `floor-${r.run}-old-${e}-${i}`, r)));
      return ids;
    }),
  );
  const t0 = performance.now();
  await Promise.all(
    r.sockets.map((socket, e) =>
      pool(perEngine[e]!, r.inFlightPerEngine, async (i) => {
        await Promise.all([expectStatus(socket, "POST", `/containers/${old[e]![i]}/stop?t=${STOP_TIMEOUT_S}`, [204, 304]), createAndStart(socket, `floor-${r.run}-new-${e}-${i}`, r)]);
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  await forceRemove([...r.sockets], FLOOR_LABEL, 4);
  return seconds;
}
