import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Message } from "../core/types.js";
import { MessageType, message } from "../core/types.js";
import type { SnapshotChunk } from "../../../proto/gen/raft.js";
import { messageToWire } from "./codec.js";
import { SnapshotAssembler } from "./snapshot-assembler.js";

const snap = (data: Uint8Array): Message =>
  message({
    type: MessageType.Snap,
    from: 1,
    to: 2,
    term: 4,
    snapshot: { meta: { index: 9, term: 3, confState: { voters: [1, 2], learners: [] } }, data },
  });

function chunks(data: Buffer, size: number): SnapshotChunk[] {
  const out: SnapshotChunk[] = [];
  let off = 0;
  do {
    const piece = data.subarray(off, off + size);
    const last = off + piece.length === data.length;
    out.push({
      clusterId: "c1",
      from: 1,
      to: 2,
      message: off === 0 ? messageToWire(snap(data)) : undefined,
      offset: off,
      data: piece,
      last,
      totalSize: last ? data.length : 0,
      sha256: last ? createHash("sha256").update(data).digest() : Buffer.alloc(0),
    });
    off += piece.length;
  } while (off < data.length);
  return out;
}

function assemble(cs: SnapshotChunk[], max = 1 << 20): Message {
  const a = new SnapshotAssembler(max);
  for (const c of cs) a.push(c);
  return a.finish();
}

describe("SnapshotAssembler", () => {
  it("reassembles the payload and the message", () => {
    const data = randomBytes(10_000);
    const m = assemble(chunks(data, 3000));
    expect(Buffer.from(m.snapshot!.data).equals(data)).toBe(true);
    expect({ ...m, snapshot: null }).toEqual({ ...snap(data), snapshot: null });
    expect(m.snapshot!.meta).toEqual(snap(data).snapshot!.meta);
  });

  it("accepts an empty payload in one chunk", () => {
    expect(assemble(chunks(Buffer.alloc(0), 10)).snapshot!.data.length).toBe(0);
  });

  const data = randomBytes(1000);
  const cases: Array<[string, (cs: SnapshotChunk[]) => SnapshotChunk[], string, number?]> = [
    ["a flipped byte", (cs) => cs.map((c, i) => (i === 1 ? { ...c, data: Buffer.from(c.data.map((b, j) => (j === 0 ? b ^ 1 : b))) } : c)), "CHECKSUM_MISMATCH"],
    ["a missing chunk", (cs) => cs.filter((_, i) => i !== 1), "NON_CONTIGUOUS"],
    ["a repeated chunk", (cs) => [cs[0]!, cs[1]!, ...cs.slice(1)], "NON_CONTIGUOUS"],
    ["a wrong total size", (cs) => cs.map((c) => (c.last ? { ...c, totalSize: 999 } : c)), "SIZE_MISMATCH"],
    ["no last chunk", (cs) => cs.slice(0, -1), "INCOMPLETE"],
    ["no message in the first chunk", (cs) => [{ ...cs[0]!, message: undefined }, ...cs.slice(1)], "MISSING_MESSAGE"],
    ["a chunk after the last", (cs) => [...cs, cs[cs.length - 1]!], "AFTER_LAST"],
    ["a change of sender", (cs) => cs.map((c, i) => (i === 2 ? { ...c, from: 3 } : c)), "SENDER_CHANGED"],
    ["a payload over the limit", (cs) => cs, "TOO_LARGE", 999],
  ];
  for (const [what, corrupt, code, max] of cases) {
    it(`rejects ${what}`, () => {
      expect(() => assemble(corrupt(chunks(data, 300)), max)).toThrow(expect.objectContaining({ code }));
    });
  }
});
