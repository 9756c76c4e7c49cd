// Commits decided steps in bounded transactions. Each step is staged against the stored state at
// the time the transaction is built: it applies only while its premises hold (the tasks it changes
// still have the desired state the decision saw, the service still has the spec version its new
// tasks were made from and the update status a status change was decided from); otherwise it is
// skipped and its decision made again. A transaction that
// loses an optimistic-concurrency race (a task updated meanwhile by the dispatcher, the allocator
// or the scheduler) is rebuilt from the new state and retried.
import { Task, type Service } from "../../proto/gen/objects.js";
import { TaskState, UpdateStatus } from "../../proto/gen/types.js";
import { StoreError, StoreErrorCode, type MemoryStore, type StoreObject, type Tx } from "../store/index.js";
import type { ServiceChange, Step } from "./decisions/plan.js";
import { observedState } from "./decisions/task-state.js";

export interface CommitOptions {
  /** Actions (task creations, changes, deletions) in one transaction at most. Default 200. */
  maxActionsPerTx?: number;
  /** Budget of one transaction's encoded tasks. Default 512 KiB (the store refuses over 1 MiB). */
  maxBytesPerTx?: number;
  /** Builds of one transaction before its steps are given back as skipped. Default 5. */
  attempts?: number;
}

export interface CommitResult {
  committed: Step[];
  /** Steps whose premises no longer held, or whose transaction kept losing races: decide again. */
  skipped: Step[];
  /** Transactions that failed for another reason (no leader, no quorum…), with their steps. */
  failed: { steps: Step[]; error: Error }[];
}

const obj = (o: object): StoreObject => o as unknown as StoreObject;

const statusBytes = (u: UpdateStatus | undefined): Buffer => Buffer.from(UpdateStatus.encode(UpdateStatus.fromPartial(u ?? {})).finish());

/** The service with `c` applied, or null when the update status it was decided from changed (or there is no spec to roll back to). */
function changedService(cur: Service, c: ServiceChange): Service | null {
  if (!statusBytes(cur.updateStatus).equals(statusBytes(c.seen))) return null;
  if (c.rollback && !cur.previousSpec) return null;
  const next: Service = { ...cur, meta: cur.meta ? { ...cur.meta } : undefined, updateStatus: UpdateStatus.fromPartial(c.updateStatus) };
  if (c.rollback) {
    [next.spec, next.previousSpec] = [cur.previousSpec, cur.spec];
    [next.specVersion, next.previousSpecVersion] = [cur.previousSpecVersion, cur.specVersion];
  }
  return next;
}

/** Stages `s` in `tx` if its premises hold; false (nothing staged) otherwise. */
function stage(tx: Tx, s: Step): boolean {
  let service: Service | null = null;
  if (s.specVersion !== undefined) {
    const cur = tx.get("service", s.serviceId) as unknown as Service | undefined;
    if (!cur || cur.pendingDelete || (cur.specVersion?.index ?? 0) !== s.specVersion) return false;
    if (s.service && !(service = changedService(cur, s.service))) return false;
  } else if (s.service) {
    throw new Error(`a step changing service ${s.serviceId} names no spec version`);
  }
  const changes: { cur: Task; next: Task }[] = [];
  for (const c of s.change) {
    const cur = tx.get("task", c.task.id) as unknown as Task | undefined;
    if (!cur || cur.desiredState !== c.task.desiredState) return false;
    if (c.status && observedState(cur) > TaskState.TASK_STATE_RUNNING) return false;
    const desiredState = Math.max(cur.desiredState, c.desiredState ?? cur.desiredState);
    if (desiredState === cur.desiredState && !c.status) continue;
    // A shallow copy: the stored task's parts are shared; meta is copied for the store's stamp.
    changes.push({ cur, next: { ...cur, meta: cur.meta ? { ...cur.meta } : undefined, desiredState, status: c.status ?? cur.status } });
  }
  const removals: string[] = [];
  for (const t of s.remove) {
    const cur = tx.get("task", t.id) as unknown as Task | undefined;
    if (!cur) continue;
    if (cur.desiredState !== t.desiredState || observedState(cur) !== observedState(t)) return false;
    removals.push(t.id);
  }
  if (s.create.some((t) => tx.get("task", t.id))) return false;
  if (service) tx.update("service", obj(service));
  for (const { next } of changes) tx.update("task", obj(next));
  for (const id of removals) tx.remove("task", id);
  for (const t of s.create) tx.create("task", obj({ ...t }));
  return true;
}

function size(s: Step): { actions: number; bytes: number } {
  let bytes = 0;
  for (const t of s.create) bytes += Task.encode(t).finish().length;
  for (const c of s.change) bytes += Task.encode(c.task).finish().length;
  bytes += 64 * s.remove.length;
  // A step that rewrites the service (its size unknown here) goes in a transaction of its own.
  if (s.service) bytes = Number.POSITIVE_INFINITY;
  return { actions: s.create.length + s.change.length + s.remove.length + (s.service ? 1 : 0), bytes };
}

/** Splits steps into transactions of at most `maxActions` actions and `maxBytes` bytes (a larger step goes alone). */
function chunk(steps: readonly Step[], maxActions: number, maxBytes: number): Step[][] {
  const out: Step[][] = [];
  let cur: Step[] = [];
  let actions = 0;
  let bytes = 0;
  for (const s of steps) {
    const z = size(s);
    if (cur.length > 0 && (actions + z.actions > maxActions || bytes + z.bytes > maxBytes)) {
      out.push(cur);
      cur = [];
      actions = 0;
      bytes = 0;
    }
    cur.push(s);
    actions += z.actions;
    bytes += z.bytes;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

const isConflict = (e: unknown): boolean => e instanceof StoreError && e.code === StoreErrorCode.Conflict;

/** Commits `steps`; transactions go in flight together (Raft batches them). */
export async function commitSteps(store: MemoryStore, steps: readonly Step[], opts: CommitOptions = {}): Promise<CommitResult> {
  const result: CommitResult = { committed: [], skipped: [], failed: [] };
  const attempts = opts.attempts ?? 5;
  const chunks = chunk(steps, opts.maxActionsPerTx ?? 200, opts.maxBytesPerTx ?? 512 * 1024);
  await Promise.all(
    chunks.map(async (txSteps) => {
      for (let attempt = 1; ; attempt++) {
        const staged: Step[] = [];
        const skipped: Step[] = [];
        try {
          await store.update((tx) => {
            staged.length = 0;
            skipped.length = 0;
            for (const s of txSteps) (stage(tx, s) ? staged : skipped).push(s);
          });
          result.committed.push(...staged);
          result.skipped.push(...skipped);
          return;
        } catch (e) {
          if (isConflict(e) && attempt < attempts) continue;
          if (isConflict(e)) result.skipped.push(...txSteps);
          else result.failed.push({ steps: txSteps, error: e as Error });
          return;
        }
      }
    }),
  );
  return result;
}
