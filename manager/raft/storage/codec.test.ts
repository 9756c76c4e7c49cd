// Tests of the core <-> proto conversions.
import { describe, expect, it } from "vitest";
import * as pb from "../../../proto/gen/raft.js";
import { EntryType } from "../core/types.js";
import type { Entry } from "../core/types.js";
import {
  confStateFromProto,
  decodeEntry,
  decodeHardState,
  decodeSnapshotMeta,
  encodeEntry,
  encodeHardState,
  encodeSnapshotMeta,
  entryToProto,
} from "./codec.js";
import { RaftCodecError } from "./errors.js";

describe("codec", () => {
  it("round-trips entries of both types with plain Uint8Array data", () => {
    const big = 2 ** 52 + 3;
    const entries: Entry[] = [
      { term: 3, index: big, type: EntryType.Normal, data: Uint8Array.of(1, 2, 3) },
      { term: 4, index: 9, type: EntryType.ConfChange, data: new Uint8Array(0) },
    ];
    for (const e of entries) {
      const back = decodeEntry(encodeEntry(e));
      expect(back).toEqual(e);
      expect(back.data).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(back.data)).toBe(false);
    }
  });

  it("copies decoded data so it does not alias the input bytes", () => {
    const bytes = encodeEntry({ term: 1, index: 1, type: EntryType.Normal, data: Uint8Array.of(42) });
    const e = decodeEntry(bytes);
    bytes.fill(0);
    expect(e.data).toEqual(Uint8Array.of(42));
  });

  it("shares data bytes when converting to proto and accepts a Uint8Array view", () => {
    const backing = Uint8Array.of(9, 8, 7, 6);
    const view = backing.subarray(1, 3);
    const m = entryToProto({ term: 1, index: 2, type: EntryType.Normal, data: view });
    expect([...m.data]).toEqual([8, 7]);
    expect(decodeEntry(encodeEntry({ term: 1, index: 2, type: EntryType.Normal, data: view })).data).toEqual(Uint8Array.of(8, 7));
  });

  it("rejects an unknown entry type", () => {
    const bytes = pb.Entry.encode({ term: 1, index: 1, type: 7 as pb.EntryType, data: Buffer.alloc(0) }).finish();
    expect(() => decodeEntry(bytes)).toThrow(RaftCodecError);
  });

  it("round-trips hard state", () => {
    const hs = { term: 12, vote: 3, commit: 40 };
    expect(decodeHardState(encodeHardState(hs))).toEqual(hs);
    expect(decodeHardState(encodeHardState({ term: 0, vote: 0, commit: 0 }))).toEqual({ term: 0, vote: 0, commit: 0 });
  });

  it("round-trips snapshot metadata with voters and learners", () => {
    const meta = { index: 100, term: 7, confState: { voters: [1, 2, 3], learners: [9] } };
    expect(decodeSnapshotMeta(encodeSnapshotMeta(meta))).toEqual(meta);
  });

  it("reads an absent conf state as no members", () => {
    expect(confStateFromProto(undefined)).toEqual({ voters: [], learners: [] });
    const bytes = pb.SnapshotMeta.encode({ index: 5, term: 2, confState: undefined }).finish();
    expect(decodeSnapshotMeta(bytes)).toEqual({ index: 5, term: 2, confState: { voters: [], learners: [] } });
  });
});
