// The address book of the members (id → address), and the envelope that carries it inside
// snapshots next to the application's state: a snapshot must say where every member is.
import type { NodeId } from "../core/types.js";

export interface Member {
  id: NodeId;
  addr: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Encodes a member's address as the context of its membership change. */
export function encodeMemberContext(addr: string): Uint8Array {
  return enc.encode(JSON.stringify({ addr }));
}

export function decodeMemberContext(ctx: Uint8Array): string {
  if (ctx.length === 0) return "";
  const v = JSON.parse(dec.decode(ctx)) as { addr?: unknown };
  return typeof v.addr === "string" ? v.addr : "";
}

/** Snapshot payload: 4-byte length, JSON member list, then the application's bytes. */
export function wrapSnapshot(members: Member[], app: Uint8Array): Uint8Array {
  const head = enc.encode(JSON.stringify(members));
  const out = new Uint8Array(4 + head.length + app.length);
  new DataView(out.buffer).setUint32(0, head.length);
  out.set(head, 4);
  out.set(app, 4 + head.length);
  return out;
}

export function unwrapSnapshot(data: Uint8Array): { members: Member[]; app: Uint8Array } {
  if (data.length === 0) return { members: [], app: data };
  const n = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
  const members = JSON.parse(dec.decode(data.subarray(4, 4 + n))) as Member[];
  return { members, app: data.subarray(4 + n) };
}

export function encodeMembers(members: Member[]): Uint8Array {
  return enc.encode(JSON.stringify(members));
}

export function decodeMembers(data: Uint8Array): Member[] {
  return JSON.parse(dec.decode(data)) as Member[];
}
