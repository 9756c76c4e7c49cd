// Reads of a test cluster's state through the Control API on a daemon's local socket: tasks and
// services as the store has them, for assertions the CLI's tables would make awkward.
import * as grpc from "@grpc/grpc-js";
import { ControlClient, ListTasksRequest } from "../../proto/gen/control.js";
import type { Service, Task } from "../../proto/gen/objects.js";
import { TaskState } from "../../proto/gen/types.js";
import type { SwarmdHost } from "./swarm-hosts.js";

function call<Res>(on: SwarmdHost, invoke: (c: ControlClient, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  const client = new ControlClient(`unix://${on.socket}`, grpc.credentials.createInsecure());
  return new Promise<Res>((resolve, reject) =>
    invoke(client, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res))),
  ).finally(() => client.close());
}

/** Every task of `service` (id or name), dead ones included. */
export async function tasksOf(on: SwarmdHost, service: string): Promise<Task[]> {
  const res = await call<{ tasks: Task[] }>(on, (c, md, o, cb) => c.listTasks(ListTasksRequest.fromPartial({ filters: { serviceIds: [service] } }), md, o, cb));
  return res.tasks;
}

export async function getService(on: SwarmdHost, service: string): Promise<Service> {
  return (await call<{ service?: Service }>(on, (c, md, o, cb) => c.getService({ serviceId: service }, md, o, cb))).service!;
}

/** Tasks that run now: observed RUNNING and still wanted. */
export const running = (tasks: Task[]): Task[] =>
  tasks.filter((t) => t.status?.state === TaskState.TASK_STATE_RUNNING && t.desiredState === TaskState.TASK_STATE_RUNNING);

/** One line per task, for failure messages. */
export function describeTasks(tasks: Task[]): string {
  return tasks
    .map((t) => `slot ${t.slot} node ${t.nodeId.slice(0, 6)} desired ${TaskState[t.desiredState]} state ${TaskState[t.status?.state ?? 0]} err "${t.status?.err ?? ""}"`)
    .join("\n");
}
