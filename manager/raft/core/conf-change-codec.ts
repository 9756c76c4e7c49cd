// The byte encoding of a membership change inside a ConfChange log entry:
// 1 byte type, 8 bytes member id (big-endian), then the opaque context.
import { invariant } from "./errors.js";
import type { ConfChange, ConfChangeType } from "./types.js";

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(9 + cc.context.length);
  const dv = new DataView(out.buffer);
  dv.setUint8(0, cc.type);
  dv.setBigUint64(1, BigInt(cc.nodeId));
  out.set(cc.context, 9);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  invariant(data.length >= 9, `conf change entry too short (${data.length} bytes)`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = dv.getUint8(0);
  invariant(type <= 2, `unknown conf change type ${type}`);
  return { type: type as ConfChangeType, nodeId: Number(dv.getBigUint64(1)), context: data.slice(9) };
}
