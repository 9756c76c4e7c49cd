// StatusReporter without sockets: a scripted sender stands for the UpdateTaskStatus call.
import { describe, expect, it } from "vitest";
import type { TaskStatusUpdate } from "../../proto/gen/dispatcher.js";
import { TaskState, TaskStatus } from "../../proto/gen/types.js";
import { StatusReporter } from "./status-reporter.js";

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const update = (taskId: string, state: TaskState): TaskStatusUpdate => ({ taskId, status: TaskStatus.fromPartial({ state }) });
const show = (batch: TaskStatusUpdate[]): string[] => batch.map((u) => `${u.taskId}:${TaskState[u.status!.state]!.replace("TASK_STATE_", "")}`);

function reporter(opts: { maxUpdates?: number; permanent?: (e: unknown) => boolean } = {}) {
  return new StatusReporter({
    batch: { maxUpdates: opts.maxUpdates ?? 100, delayMs: 0 },
    backoff: { initialMs: 1, maxMs: 2 },
    random: () => 0.5,
    ...(opts.permanent ? { isPermanent: opts.permanent } : {}),
  });
}

describe("StatusReporter", () => {
  it("holds statuses until a session is attached, then sends the latest per task in batches", async () => {
    const r = reporter({ maxUpdates: 2 });
    const sent: string[][] = [];
    const p = Promise.all([
      r.report([update("t1", TaskState.TASK_STATE_PREPARING), update("t2", TaskState.TASK_STATE_RUNNING)]),
      r.report([update("t1", TaskState.TASK_STATE_RUNNING), update("t2", TaskState.TASK_STATE_STARTING), update("t3", TaskState.TASK_STATE_FAILED)]),
    ]);
    expect(r.queued).toBe(3);
    r.attach(async (batch) => void sent.push(show(batch)));
    await p;
    expect(sent).toEqual([["t1:RUNNING", "t2:RUNNING"], ["t3:FAILED"]]);
    expect(r.queued).toBe(0);
  });

  it("keeps a failed batch, merges what came meanwhile, and retries", async () => {
    const r = reporter();
    const sent: string[][] = [];
    let fail = 2;
    let reportedDuringFailure = false;
    r.attach(async (batch) => {
      sent.push(show(batch));
      if (fail-- > 0) {
        if (!reportedDuringFailure) {
          reportedDuringFailure = true;
          void r.report([update("t1", TaskState.TASK_STATE_COMPLETE), update("t2", TaskState.TASK_STATE_RUNNING)]);
        }
        throw Object.assign(new Error("unavailable"), { code: 14 });
      }
    });
    await r.report([update("t1", TaskState.TASK_STATE_RUNNING)]);
    expect(sent).toEqual([["t1:RUNNING"], ["t1:COMPLETE", "t2:RUNNING"], ["t1:COMPLETE", "t2:RUNNING"]]);
  });

  it("after a detach, waits for the next attach", async () => {
    const r = reporter();
    const first: string[][] = [];
    r.attach(async (batch) => {
      first.push(show(batch));
      r.detach(); // the connection dies with the call
      throw Object.assign(new Error("cancelled"), { code: 1 });
    });
    const p = r.report([update("t1", TaskState.TASK_STATE_RUNNING)]);
    await waitFor("the failed batch to be queued again", () => first.length === 1 && r.queued === 1);
    const second: string[][] = [];
    r.attach(async (batch) => void second.push(show(batch)));
    await p;
    expect(second).toEqual([["t1:RUNNING"]]);
  });

  it("rejects the reports of a batch refused for good, and only those", async () => {
    const r = reporter({ permanent: (e) => (e as { code?: number }).code === 7 });
    r.attach(async (batch) => {
      if (batch.some((u) => u.taskId === "bad")) throw Object.assign(new Error("not yours"), { code: 7 });
    });
    await expect(r.report([update("bad", TaskState.TASK_STATE_RUNNING)])).rejects.toThrow("not yours");
    await expect(r.report([update("good", TaskState.TASK_STATE_RUNNING)])).resolves.toBeUndefined();
  });

  it("close() rejects what is queued and what comes later", async () => {
    const r = reporter();
    const p = r.report([update("t1", TaskState.TASK_STATE_RUNNING)]);
    r.close(new Error("stopped"));
    await expect(p).rejects.toThrow("stopped");
    await expect(r.report([update("t1", TaskState.TASK_STATE_RUNNING)])).rejects.toThrow("stopped");
    await expect(r.report([])).rejects.toThrow("stopped");
  });
});
