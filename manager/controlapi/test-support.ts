// Helpers for the control API's tests: an in-memory store on the real object model, and an
// assertion on the exact error a call throws. Not part of the API.
import { expect } from "vitest";
import { LocalProposer, MemoryStore, SCHEMAS, StoreError, protoCodec, stampMeta } from "../store/index.js";

/** A store with the production codec and schemas, applied locally; times are `now`. */
export function newStore(now = 1_000): MemoryStore {
  const s = new MemoryStore({ codec: protoCodec, schemas: SCHEMAS, stamp: stampMeta, now: () => now });
  s.setProposer(new LocalProposer(s));
  return s;
}

/** The StoreError `fn` throws (or its promise rejects with); fails the test if there is none. */
export async function caught(fn: () => unknown): Promise<StoreError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    return e as StoreError;
  }
  throw new Error("expected a StoreError, but nothing was thrown");
}

/** Asserts that `fn` fails with exactly `code` and `message`. */
export async function expectError(fn: () => unknown, code: string, message: string): Promise<void> {
  const e = await caught(fn);
  expect({ code: e.code, message: e.message }).toEqual({ code, message });
}
