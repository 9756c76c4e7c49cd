import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Message } from "../core/types.js";
import { MessageType, message } from "../core/types.js";
import { Message as WireMessage } from "../../../proto/gen/raft.js";
import { messageFromWire, messageToWire } from "./codec.js";
import { CodecError } from "./errors.js";

const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const bytes = fc.uint8Array({ maxLength: 64 });
const entry = fc.record({ term: u64, index: u64, type: fc.constantFrom(0 as const, 1 as const), data: bytes });
const ids = fc.array(fc.integer({ min: 1, max: 2 ** 40 }), { maxLength: 5 });
const snapshot = fc.option(
  fc.record({
    meta: fc.record({ index: u64, term: u64, confState: fc.record({ voters: ids, learners: ids }) }),
    data: fc.constant(new Uint8Array(0)),
  }),
  { nil: null },
);
const msg: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...Object.values(MessageType)),
  from: u64,
  to: u64,
  term: u64,
  logTerm: u64,
  index: u64,
  commit: u64,
  entries: fc.array(entry, { maxLength: 4 }),
  reject: fc.boolean(),
  rejectHint: u64,
  snapshot,
  context: bytes,
});

/** Through the codec and the generated protobuf encoding and back. */
function roundTrip(m: Message): Message {
  return messageFromWire(WireMessage.decode(WireMessage.encode(messageToWire(m)).finish()));
}

describe("codec", () => {
  it("round-trips every message through the wire encoding", () => {
    fc.assert(
      fc.property(msg, (m) => {
        expect(roundTrip(m)).toEqual(m);
      }),
    );
  });

  it("hands out plain Uint8Arrays, not Buffers", () => {
    const m = roundTrip(
      message({ type: MessageType.App, context: new Uint8Array([1]), entries: [{ term: 1, index: 1, type: 0, data: new Uint8Array([2]) }] }),
    );
    expect(Object.getPrototypeOf(m.context)).toBe(Uint8Array.prototype);
    expect(Object.getPrototypeOf(m.entries[0]!.data)).toBe(Uint8Array.prototype);
  });

  it("carries snapshot metadata only, never the payload", () => {
    const m = message({
      type: MessageType.Snap,
      snapshot: { meta: { index: 5, term: 2, confState: { voters: [1], learners: [] } }, data: new Uint8Array(1000) },
    });
    const wire = messageToWire(m);
    expect(WireMessage.encode(wire).finish().length).toBeLessThan(100);
    expect(roundTrip(m).snapshot).toEqual({ meta: m.snapshot!.meta, data: new Uint8Array(0) });
    const data = new Uint8Array([9, 9]);
    expect(messageFromWire(wire, data).snapshot!.data).toEqual(data);
  });

  it("rejects unknown message and entry types", () => {
    const wire = messageToWire(message({ type: MessageType.App }));
    expect(() => messageFromWire({ ...wire, type: 19 })).toThrow(expect.objectContaining({ code: "UNKNOWN_MESSAGE_TYPE" }));
    const bad = { ...wire, entries: [{ term: 1, index: 1, type: 7, data: Buffer.alloc(0) }] };
    expect(() => messageFromWire(bad)).toThrow(CodecError);
  });
});
