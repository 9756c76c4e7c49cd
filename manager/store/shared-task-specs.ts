// Tasks with the same spec share one decoded TaskSpec. A service's tasks are made from its spec, so
// 100,000 tasks of 10,000 services hold 10,000 decoded specs instead of 100,000 (a small TaskSpec is
// about 1.3 KB of heap, three quarters of its task). Stored objects are never changed in place (an
// update stores a new object), so sharing is safe. Specs are told apart by their encoded bytes; one
// that no task holds any more is forgotten (weak references).
import type { Task } from "../../proto/gen/objects.js";
import type { TaskSpec } from "../../proto/gen/specs.js";
import { Fields } from "./proto-fields.js";

/** Task.spec's field number. */
const SPEC_FIELD = 3;

const fields = new Fields();
const byBytes = new Map<string, WeakRef<TaskSpec>>();
const forget = new FinalizationRegistry<string>((key) => {
  if (byBytes.get(key)?.deref() === undefined) byBytes.delete(key);
});

/**
 * Points `task.spec` at the shared instance of an equal spec, found by the spec's bytes in
 * `encoded`, the bytes `task` was decoded from; the task's own spec becomes that instance if it is
 * the first of its kind.
 */
export function shareTaskSpec(task: Task, encoded: Uint8Array): void {
  const spec = task.spec;
  if (spec === undefined) return;
  let from = -1;
  let to = -1;
  try {
    const f = fields.reset(encoded, 0, encoded.length);
    // The last occurrence is the one the decoder kept.
    while (f.next()) {
      if (f.field === SPEC_FIELD && f.wire === 2) [from, to] = [f.valueStart, f.pos];
    }
  } catch {
    return;
  }
  if (from < 0) return;
  const key = Buffer.from(encoded.buffer, encoded.byteOffset + from, to - from).toString("latin1");
  const shared = byBytes.get(key)?.deref();
  if (shared !== undefined) {
    task.spec = shared;
    return;
  }
  byBytes.set(key, new WeakRef(spec));
  forget.register(spec, key);
}
