// StatusReporter without sockets: a scripted sender stands for the UpdateTaskStatus call.
import { afterEach, describe, expect, it, vi } from "vitest";
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
    batch: { maxUpdates: opts.maxUpdates ?? 100 },
    backoff: { initialMs: 1, maxMs: 2 },
    random: () => 0.5,
    ...(opts.permanent ? { isPermanent: opts.permanent } : {}),
  });
}

/** A send whose calls stay in flight until the test settles them. */
function heldSender() {
  const calls: { batch: string[]; settle: () => void; fail: (e: Error) => void }[] = [];
  const send = (batch: TaskStatusUpdate[]): Promise<void> =>
    new Promise<void>((resolve, reject) => calls.push({ batch: show(batch), settle: resolve, fail: reject }));
  return { calls, send };
}

describe("StatusReporter", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

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

  it("with no call in flight, sends on the next turn without waiting on the clock; what one turn reports goes in one call", async () => {
    vi.useFakeTimers();
    const r = reporter();
    const { calls, send } = heldSender();
    r.attach(send);
    const start = performance.now();
    void r.report([update("t1", TaskState.TASK_STATE_PREPARING)]);
    void r.report([update("t1", TaskState.TASK_STATE_STARTING), update("t2", TaskState.TASK_STATE_RUNNING)]);
    expect(calls).toHaveLength(0); // not synchronously: the rest of this turn joins
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.batch)).toEqual([["t1:STARTING", "t2:RUNNING"]]);
    expect(performance.now() - start).toBe(0);
    calls[0]!.settle();
    await vi.advanceTimersByTimeAsync(0);

    // Idle again: the next report goes out on the next turn as well.
    void r.report([update("t2", TaskState.TASK_STATE_COMPLETE)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.batch)).toEqual([["t1:STARTING", "t2:RUNNING"], ["t2:COMPLETE"]]);
  });

  it("collects while a call is in flight and sends the rest in as few calls as maxUpdates allows", async () => {
    vi.useFakeTimers();
    const r = reporter({ maxUpdates: 3 });
    const { calls, send } = heldSender();
    r.attach(send);
    const all: Promise<void>[] = [r.report([update("t0", TaskState.TASK_STATE_RUNNING)])];
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
    // 40 reports over 2 s while the call hangs: nothing else goes out.
    for (let i = 1; i <= 40; i++) {
      all.push(r.report([update(`t${i % 7}`, i < 20 ? TaskState.TASK_STATE_STARTING : TaskState.TASK_STATE_RUNNING)]));
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(calls).toHaveLength(1);
    expect(r.queued).toBe(7);
    calls[0]!.settle();
    for (let i = 1; i < 4; i++) {
      await vi.advanceTimersByTimeAsync(0);
      expect(calls, `call ${i}`).toHaveLength(i + 1);
      calls[i]!.settle();
    }
    await Promise.all(all);
    expect(calls.slice(1).map((c) => c.batch)).toEqual([
      ["t1:RUNNING", "t2:RUNNING", "t3:RUNNING"],
      ["t4:RUNNING", "t5:RUNNING", "t6:RUNNING"],
      ["t0:RUNNING"],
    ]);
  });

  it("after a reconnect, sends the kept statuses and the worker's full re-report of the same turn in one call", async () => {
    vi.useFakeTimers();
    const r = reporter();
    const first = heldSender();
    r.attach(first.send);
    const kept = r.report([update("t1", TaskState.TASK_STATE_STARTING), update("t2", TaskState.TASK_STATE_RUNNING)]);
    await vi.advanceTimersByTimeAsync(0);
    // The session is lost before its call was answered: the call fails with it, its statuses are kept.
    r.detach();
    first.calls[0]!.fail(Object.assign(new Error("cancelled"), { code: 1 }));
    void r.report([update("t3", TaskState.TASK_STATE_RUNNING)]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(first.calls).toHaveLength(1);
    expect(r.queued).toBe(3);

    const second = heldSender();
    r.attach(second.send);
    const again = r.report([update("t1", TaskState.TASK_STATE_RUNNING), update("t2", TaskState.TASK_STATE_RUNNING), update("t3", TaskState.TASK_STATE_RUNNING)]);
    await vi.advanceTimersByTimeAsync(0);
    expect(second.calls.map((c) => c.batch)).toEqual([["t1:RUNNING", "t2:RUNNING", "t3:RUNNING"]]);
    second.calls[0]!.settle();
    await Promise.all([kept, again]);
  });
});
