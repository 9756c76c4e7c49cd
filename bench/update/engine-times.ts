// The engines' own times for a service's containers, by the task they run (the executor's
// com.docker.swarm.task.id label): created, started and, once stopped, finished (ms since the epoch,
// the machine's clock like the tasks' statuses).
import { containerIds, expectStatus, pool } from "../converge/engine-api.js";

export interface ContainerTimes {
  createdMs: number;
  startedMs: number;
  /** null while it runs. */
  finishedMs: number | null;
}

const TASK_LABEL = "com.docker.swarm.task.id";
const IN_FLIGHT_PER_ENGINE = 4;

/** Docker's "0001-01-01T00:00:00Z" (never) becomes null. */
function time(iso: string): number | null {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) && ms > 0 ? ms : null;
}

/** Every container of service `serviceName` on the engines at `sockets`, by task id. */
export async function containerTimesByTask(sockets: readonly string[], serviceName: string): Promise<Map<string, ContainerTimes>> {
  const out = new Map<string, ContainerTimes>();
  await Promise.all(
    sockets.map(async (socket) => {
      const ids = await containerIds(socket, `com.docker.swarm.service.name=${serviceName}`);
      await pool(ids.length, IN_FLIGHT_PER_ENGINE, async (i) => {
        const c = JSON.parse((await expectStatus(socket, "GET", `/containers/${ids[i]}/json`, [200])).toString()) as {
          Created: string;
          State: { StartedAt: string; FinishedAt: string };
          Config: { Labels: Record<string, string> | null };
        };
        const taskId = c.Config.Labels?.[TASK_LABEL];
        if (taskId) out.set(taskId, { createdMs: time(c.Created) ?? 0, startedMs: time(c.State.StartedAt) ?? 0, finishedMs: time(c.State.FinishedAt) });
      });
    }),
  );
  return out;
}
