// The byte encoding of a membership change inside a ConfChange log entry.
import { describe, expect, it } from "vitest";
import { decodeConfChange, encodeConfChange } from "./conf-change-codec.js";
import { RaftInvariantError } from "./errors.js";
import { seededRandom } from "./random.js";
import { ConfChangeType, type ConfChange } from "./types.js";

describe("conf change codec", () => {
  it("lays out type, big-endian member id, then the context", () => {
    const data = encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 0x0102030405, context: new Uint8Array([9, 8]) });
    expect([...data]).toEqual([2, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 9, 8]);
  });

  it("round-trips every type, ids up to 2^53-1, and arbitrary contexts", () => {
    const rand = seededRandom(11);
    const ids = [1, 2, 255, 256, 2 ** 32 - 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
    for (let i = 0; i < 300; i++) {
      const cc: ConfChange = {
        type: [ConfChangeType.AddLearner, ConfChangeType.AddVoter, ConfChangeType.RemoveNode][i % 3]!,
        nodeId: i < ids.length ? ids[i]! : 1 + Math.floor(rand() * Number.MAX_SAFE_INTEGER),
        context: Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)),
      };
      expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    }
  });

  it("decodes from a view into a larger buffer", () => {
    const inner = encodeConfChange({ type: ConfChangeType.AddVoter, nodeId: 77, context: new TextEncoder().encode("addr:1") });
    const big = new Uint8Array(inner.length + 10);
    big.set(inner, 5);
    const cc = decodeConfChange(big.subarray(5, 5 + inner.length));
    expect(cc).toEqual({ type: ConfChangeType.AddVoter, nodeId: 77, context: new TextEncoder().encode("addr:1") });
    // The context is a copy, not a view into the entry's buffer.
    big[5 + 9] = 0;
    expect(new TextDecoder().decode(cc.context)).toBe("addr:1");
  });

  it("refuses truncated data and unknown types as broken invariants", () => {
    expect(() => decodeConfChange(new Uint8Array(8))).toThrow(RaftInvariantError);
    const bad = encodeConfChange({ type: ConfChangeType.AddVoter, nodeId: 1, context: new Uint8Array(0) });
    bad[0] = 3;
    expect(() => decodeConfChange(bad)).toThrow(RaftInvariantError);
  });
});
