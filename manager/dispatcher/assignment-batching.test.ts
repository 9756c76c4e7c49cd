// When an Assignments stream sends its changes, on vitest's fake clock (setImmediate, setTimeout and
// performance.now, the dispatcher's default clock, all faked): a quiet stream sends on the next turn
// of the event loop with no time passing; once a batch window has sent two messages, changes collect
// until its end, so a busy node gets one message per window.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AssignmentsMessage } from "../../proto/gen/dispatcher.js";
import { ASSIGNMENT_BURST } from "./assignments.js";
import { Dispatcher } from "./dispatcher.js";
import { addCluster, addNodes, addTasks, newStore, seeded } from "./test-support.js";

const BATCH_MS = 100;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
  vi.useRealTimers();
});

/** Runs what is due now (promises, immediates, timers at the current time) until `cond` holds; the clock does not move. */
async function settle(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 50 && !cond(); i++) await vi.advanceTimersByTimeAsync(0);
  if (!cond()) throw new Error(`not settled without the clock moving: ${what}`);
}

/** A dispatcher on the fake clock with node n1's Assignments stream open and its complete set received. */
async function streamOfN1(): Promise<{ add: (id: string) => Promise<void>; messages: AssignmentsMessage[] }> {
  vi.useFakeTimers();
  const { store } = newStore();
  await addCluster(store, 600_000); // heartbeats stay out of the way
  await addNodes(store, ["n1"]);
  const d = new Dispatcher({ store, managers: () => [], random: seeded(5), assignmentBatchMs: BATCH_MS });
  const abort = new AbortController();
  cleanups.push(() => abort.abort());
  d.start(abort.signal);
  let sessionId = "";
  d.session("n1", "10.0.0.9:1", { description: undefined, sessionId: "" }, (m) => (sessionId = m.sessionId), abort.signal).catch(() => {});
  await settle("the session's first message", () => sessionId !== "");
  const messages: AssignmentsMessage[] = [];
  d.assignments("n1", sessionId, (m) => messages.push(m), abort.signal).catch(() => {});
  await settle("the complete set", () => messages.length === 1);
  return { add: (id) => addTasks(store, [{ id, nodeId: "n1" }]), messages };
}

const taskIds = (messages: AssignmentsMessage[]): string[][] =>
  messages.map((m) => m.changes.map((c) => (c.assignment?.item?.$case === "task" ? c.assignment.item.task.id : "?")));

describe("Assignments batching", () => {
  it("a quiet stream sends on the next turn; a third message within the window waits for it", async () => {
    const { add, messages } = await streamOfN1();
    await vi.advanceTimersByTimeAsync(1_000); // idle
    const t0 = performance.now();

    await add("a"); // an update stops the node's old task…
    await settle("a sent", () => messages.length === 2);
    await vi.advanceTimersByTimeAsync(20);
    await add("b"); // …and 20 ms later the scheduler places the new one here
    await settle("b sent", () => messages.length === 3);
    expect(taskIds(messages.slice(1))).toEqual([["a"], ["b"]]);

    // The window that a's message opened has sent two: the next changes wait for its end.
    await vi.advanceTimersByTimeAsync(10);
    await add("c");
    await vi.advanceTimersByTimeAsync(t0 + BATCH_MS - 1 - performance.now());
    await add("d");
    expect(messages).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(taskIds(messages.slice(3))).toEqual([["c", "d"]]);

    // Quiet for a window: the next change goes on the next turn again.
    await vi.advanceTimersByTimeAsync(BATCH_MS);
    await add("e");
    await settle("e sent", () => messages.length === 5);
    for (let i = 1; i < messages.length; i++) expect(messages[i]!.appliesTo).toBe(messages[i - 1]!.resultsIn);
  });

  it("under a steady stream of changes, sends one message per window after the first two, none later than one window", async () => {
    const { add, messages } = await streamOfN1();
    await vi.advanceTimersByTimeAsync(1_000);
    const committedAt = new Map<string, number>();
    const receivedAt = new Map<string, number>();
    const seen = (): void => {
      for (const ids of taskIds(messages.slice(1))) for (const id of ids) if (!receivedAt.has(id)) receivedAt.set(id, performance.now());
    };
    // 200 transactions, one every 5 ms (1 s), each placing one task on n1.
    for (let i = 0; i < 200; i++) {
      const id = `t${String(i).padStart(3, "0")}`;
      await add(id);
      committedAt.set(id, performance.now());
      await vi.advanceTimersByTimeAsync(0);
      seen();
      for (let ms = 0; ms < 5; ms++) {
        await vi.advanceTimersByTimeAsync(1);
        seen();
      }
    }
    await vi.advanceTimersByTimeAsync(BATCH_MS);
    seen();
    expect(receivedAt.size).toBe(200);
    const incremental = messages.length - 1;
    // One message per window, plus the two that went out at once when the first changes came (the
    // fixed window this replaced sent 10).
    expect(incremental).toBeLessThanOrEqual(1_000 / BATCH_MS + ASSIGNMENT_BURST);
    const delays = [...committedAt].map(([id, at]) => receivedAt.get(id)! - at);
    expect(Math.max(...delays)).toBeLessThanOrEqual(BATCH_MS);
  });
});
