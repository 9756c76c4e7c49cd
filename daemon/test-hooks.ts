// Test-only hooks on the local socket (`swarmd --test-hooks`, hidden): until the orchestrators and
// the scheduler exist, integration tests put tasks straight into the store with TestHooks.PutTask.
// Never served on the cluster port; served on the local socket only when the flag is given.
import { Task } from "../proto/gen/objects.js";
import type { TestHooksServer } from "../proto/gen/test_hooks.js";
import { toGrpcStatus } from "../manager/controlapi/index.js";
import { StoreError } from "../manager/store/index.js";
import type { Daemon } from "./daemon.js";
import { invalidArgument, toStatus, unavailable } from "./errors.js";

/** Creates `task`, or replaces the stored task of its id (taking over the stored version), on the leader. */
export async function putTask(d: Daemon, task: Task): Promise<Task> {
  const rt = d.managerRuntime();
  if (!rt) throw d.controlUnavailableReason() ?? unavailable("this node runs no manager");
  if (!rt.isLeader()) throw unavailable("PutTask is served by the leader only: call the leader's local socket");
  if (!task.id) throw invalidArgument("PutTask: the task needs an id");
  const store = rt.manager.store;
  await store.update((tx) => {
    const current = tx.get("task", task.id) as Task | undefined;
    if (current) tx.update("task", { ...task, meta: current.meta });
    else tx.create("task", { ...task, meta: undefined });
  });
  const stored = store.view((r) => r.get("task", task.id) as Task | undefined);
  if (!stored) throw unavailable(`task ${task.id} was removed right after it was put`);
  return Task.fromPartial(stored);
}

export function testHooksImplementation(d: Daemon): TestHooksServer {
  return {
    putTask: (call, cb) =>
      void putTask(d, call.request).then(
        (t) => cb(null, t),
        (e: unknown) => cb(e instanceof StoreError ? toGrpcStatus(e) : toStatus(e)),
      ),
  };
}
