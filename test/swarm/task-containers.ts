// A task's container as its node's Docker engine has it, read and driven through the Engine API:
// inspect it (image, environment, health) and run a command in it (to change what its health
// check sees).
import { engineRequest } from "../hosts/docker-engine.js";
import { waitFor } from "../hosts/poll.js";
import type { SwarmdHost } from "./swarm-hosts.js";

/** What the tests read of `GET /containers/{id}/json`. */
export interface ContainerInfo {
  Id: string;
  Config: { Image: string; Env: string[] | null };
  State: { Running: boolean; Health?: { Status: string } };
}

function engineOf(h: SwarmdHost): string {
  if (!h.engine) throw new Error(`${h.host.name} has no Docker engine`);
  return h.engine.socketPath;
}

/** The one container of task `taskId` on `h`'s engine (by the label the executor puts on it). */
export async function containerOfTask(h: SwarmdHost, taskId: string): Promise<ContainerInfo> {
  const socket = engineOf(h);
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.task.id=${taskId}`] }));
  const list = await engineRequest(socket, "GET", `/containers/json?all=1&filters=${filters}`);
  if (list.status !== 200) throw new Error(`listing containers on ${h.host.name}: HTTP ${list.status} ${list.body.toString()}`);
  const found = JSON.parse(list.body.toString()) as { Id: string }[];
  if (found.length !== 1) throw new Error(`expected one container of task ${taskId} on ${h.host.name}, found ${found.length}`);
  const r = await engineRequest(socket, "GET", `/containers/${found[0]!.Id}/json`);
  if (r.status !== 200) throw new Error(`inspecting ${found[0]!.Id} on ${h.host.name}: HTTP ${r.status} ${r.body.toString()}`);
  return JSON.parse(r.body.toString()) as ContainerInfo;
}

/** Runs `cmd` in container `id` on `h`'s engine and waits for it to exit; returns its exit code. */
export async function execInContainer(h: SwarmdHost, id: string, cmd: string[]): Promise<number> {
  const socket = engineOf(h);
  const created = await engineRequest(socket, "POST", `/containers/${id}/exec`, { json: { Cmd: cmd, AttachStdout: false, AttachStderr: false } });
  if (created.status !== 201) throw new Error(`exec ${cmd.join(" ")} in ${id}: HTTP ${created.status} ${created.body.toString()}`);
  const execId = (JSON.parse(created.body.toString()) as { Id: string }).Id;
  const started = await engineRequest(socket, "POST", `/exec/${execId}/start`, { json: { Detach: true } });
  if (started.status !== 200) throw new Error(`starting exec ${execId} in ${id}: HTTP ${started.status} ${started.body.toString()}`);
  return waitFor(
    async () => {
      const r = JSON.parse((await engineRequest(socket, "GET", `/exec/${execId}/json`)).body.toString()) as { Running: boolean; ExitCode: number | null };
      return r.Running ? undefined : (r.ExitCode ?? -1);
    },
    { timeoutMs: 10_000, what: `${cmd.join(" ")} in ${id} to exit` },
  );
}

/** Tags `image` as `tag` (repo:tag) on `h`'s engine: a second name for the same image. */
export async function tagImage(h: SwarmdHost, image: string, tag: string): Promise<void> {
  const [repo, version] = tag.split(":") as [string, string];
  const q = new URLSearchParams({ repo, tag: version });
  const r = await engineRequest(engineOf(h), "POST", `/images/${image}/tag?${q}`);
  if (r.status !== 201) throw new Error(`tagging ${image} as ${tag} on ${h.host.name}: HTTP ${r.status} ${r.body.toString()}`);
}
