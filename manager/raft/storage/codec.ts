// Conversions between the core's plain types and the generated proto messages, and their bytes.
import * as pb from "../../../proto/gen/raft.js";
import { EntryType } from "../core/types.js";
import type { ConfState, Entry, HardState, SnapshotMeta } from "../core/types.js";
import { RaftCodecError } from "./errors.js";

/** Views `bytes` as a Buffer without copying (the generated types want Buffer). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function entryTypeFromProto(t: pb.EntryType): EntryType {
  if (t === pb.EntryType.ENTRY_TYPE_NORMAL) return EntryType.Normal;
  if (t === pb.EntryType.ENTRY_TYPE_CONF_CHANGE) return EntryType.ConfChange;
  throw new RaftCodecError(`unknown entry type ${String(t)}`);
}

function entryTypeToProto(t: EntryType): pb.EntryType {
  if (t === EntryType.Normal) return pb.EntryType.ENTRY_TYPE_NORMAL;
  if (t === EntryType.ConfChange) return pb.EntryType.ENTRY_TYPE_CONF_CHANGE;
  throw new RaftCodecError(`unknown entry type ${String(t)}`);
}

/** Core entry to proto message (shares the data bytes). */
export function entryToProto(e: Entry): pb.Entry {
  return { term: e.term, index: e.index, type: entryTypeToProto(e.type), data: asBuffer(e.data) };
}

/** Proto message to core entry; the data is copied into a plain Uint8Array of its own. */
export function entryFromProto(m: pb.Entry): Entry {
  return { term: m.term, index: m.index, type: entryTypeFromProto(m.type), data: new Uint8Array(m.data) };
}

/** Proto bytes of an entry. */
export function encodeEntry(e: Entry): Uint8Array {
  return pb.Entry.encode(entryToProto(e)).finish();
}

/** Entry from its proto bytes; throws on malformed input. */
export function decodeEntry(bytes: Uint8Array): Entry {
  return entryFromProto(pb.Entry.decode(bytes));
}

/** Core hard state to proto message. */
export function hardStateToProto(hs: HardState): pb.HardState {
  return { term: hs.term, vote: hs.vote, commit: hs.commit };
}

/** Proto message to core hard state. */
export function hardStateFromProto(m: pb.HardState): HardState {
  return { term: m.term, vote: m.vote, commit: m.commit };
}

/** Proto bytes of a hard state. */
export function encodeHardState(hs: HardState): Uint8Array {
  return pb.HardState.encode(hardStateToProto(hs)).finish();
}

/** Hard state from its proto bytes; throws on malformed input. */
export function decodeHardState(bytes: Uint8Array): HardState {
  return hardStateFromProto(pb.HardState.decode(bytes));
}

/** Core conf state to proto message (copies the id lists). */
export function confStateToProto(cs: ConfState): pb.ConfState {
  return { voters: [...cs.voters], learners: [...cs.learners] };
}

/** Proto message (possibly absent) to core conf state; absent means no members. */
export function confStateFromProto(m: pb.ConfState | undefined): ConfState {
  return { voters: m ? [...m.voters] : [], learners: m ? [...m.learners] : [] };
}

/** Core snapshot metadata to proto message. */
export function snapshotMetaToProto(meta: SnapshotMeta): pb.SnapshotMeta {
  return { index: meta.index, term: meta.term, confState: confStateToProto(meta.confState) };
}

/** Proto message to core snapshot metadata. */
export function snapshotMetaFromProto(m: pb.SnapshotMeta): SnapshotMeta {
  return { index: m.index, term: m.term, confState: confStateFromProto(m.confState) };
}

/** Proto bytes of snapshot metadata. */
export function encodeSnapshotMeta(meta: SnapshotMeta): Uint8Array {
  return pb.SnapshotMeta.encode(snapshotMetaToProto(meta)).finish();
}

/** Snapshot metadata from its proto bytes; throws on malformed input. */
export function decodeSnapshotMeta(bytes: Uint8Array): SnapshotMeta {
  return snapshotMetaFromProto(pb.SnapshotMeta.decode(bytes));
}
