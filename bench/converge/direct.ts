// The floor of the docker mode: the same containers created and started straight through the
// engines' APIs (POST /containers/create, then /start), a fixed number in flight per engine.
import { expectStatus, forceRemove, pool } from "./engine-api.js";

/** The label every container the floor makes carries, so that it removes exactly those. */
const DIRECT_LABEL = "bench.converge.direct";

export interface DirectRun {
  /** Engine API sockets; the containers are split evenly over them (the first ones get the remainder). */
  sockets: string[];
  containers: number;
  image: string;
  /** Entrypoint (as the docker executor maps a task's command). */
  command: string[];
  inFlightPerEngine: number;
  /** Distinguishes this run's container names. */
  run: number;
}

/** Creates and starts the containers; resolves with the seconds that took (the floor). */
export async function createAndStartDirect(r: DirectRun): Promise<number> {
  const perEngine = r.sockets.map((_, e) => Math.floor(r.containers / r.sockets.length) + (e < r.containers % r.sockets.length ? 1 : 0));
  const t0 = performance.now();
  await Promise.all(
    r.sockets.map((socket, e) =>
      pool(perEngine[e]!, r.inFlightPerEngine, async (i) => {
        const body = {
          Image: r.image,
          Entrypoint: r.command,
          Labels: { [DIRECT_LABEL]: String(r.run) },
          HostConfig: { NetworkMode: "none", RestartPolicy: { Name: "no" } },
        };
        const created = JSON.parse((await expectStatus(socket, "POST", `/containers/create?name=direct-${r.run}-${e}-${i}`, [201], body)).toString()) as { Id: string };
        await expectStatus(socket, "POST", `/containers/${created.Id}/start`, [204]);
      }),
    ),
  );
  return (performance.now() - t0) / 1000;
}

/** Removes the floor's containers of every run. */
export function removeDirect(sockets: string[], inFlightPerEngine: number): Promise<number> {
  return forceRemove(sockets, DIRECT_LABEL, inFlightPerEngine);
}

