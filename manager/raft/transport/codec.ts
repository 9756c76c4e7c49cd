// Conversion between the core's plain data (core/types.ts) and the generated wire messages
// (proto/gen/raft.ts). Snapshot payloads are not converted here: a wire Message carries only the
// snapshot's metadata, the payload travels in SnapshotChunk data (see snapshot-send.ts).
import type {
  ConfState,
  Entry,
  EntryType,
  Message,
  MessageType,
  SnapshotMeta,
} from "../core/types.js";
import { EMPTY, messageTypeName } from "../core/types.js";
import type {
  ConfState as WireConfState,
  Entry as WireEntry,
  Message as WireMessage,
  SnapshotMeta as WireSnapshotMeta,
} from "../../../proto/gen/raft.js";
import { CodecError, CodecErrorCode } from "./errors.js";

/** A view of `bytes` as a Buffer, without copying (the generated code types bytes as Buffer). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array view of `bytes`, without copying. */
export function asBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) return EMPTY;
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Core entry to wire entry; the data is shared, not copied. */
export function entryToWire(e: Entry): WireEntry {
  return { term: e.term, index: e.index, type: e.type as number, data: asBuffer(e.data) };
}

/** Wire entry to core entry; throws CodecError on an unknown entry type. */
export function entryFromWire(e: WireEntry): Entry {
  const type = e.type as number;
  if (type !== 0 && type !== 1) {
    throw new CodecError(CodecErrorCode.UnknownEntryType, `unknown entry type ${type}`);
  }
  return { term: e.term, index: e.index, type: type as EntryType, data: asBytes(e.data) };
}

/** Core conf state to wire conf state. */
export function confStateToWire(c: ConfState): WireConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}

/** Wire conf state to core conf state (an absent one is empty). */
export function confStateFromWire(c: WireConfState | undefined): ConfState {
  return { voters: c ? [...c.voters] : [], learners: c ? [...c.learners] : [] };
}

/** Core snapshot metadata to wire snapshot metadata. */
export function snapshotMetaToWire(m: SnapshotMeta): WireSnapshotMeta {
  return { index: m.index, term: m.term, confState: confStateToWire(m.confState) };
}

/** Wire snapshot metadata to core snapshot metadata. */
export function snapshotMetaFromWire(m: WireSnapshotMeta): SnapshotMeta {
  return { index: m.index, term: m.term, confState: confStateFromWire(m.confState) };
}

/** True if `t` is one of the core's message types. */
export function isMessageType(t: number): t is MessageType {
  return Object.prototype.hasOwnProperty.call(messageTypeName, t);
}

/**
 * Core message to wire message. Only the snapshot's metadata is kept: the payload must be sent
 * separately (SendSnapshot). Entry data and context are shared, not copied.
 */
export function messageToWire(m: Message): WireMessage {
  return {
    type: m.type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    commit: m.commit,
    entries: m.entries.map(entryToWire),
    reject: m.reject,
    rejectHint: m.rejectHint,
    snapshot: m.snapshot ? snapshotMetaToWire(m.snapshot.meta) : undefined,
    context: asBuffer(m.context),
  };
}

/**
 * Wire message to core message. A snapshot, if present, gets `snapshotData` as its payload
 * (empty unless the caller reassembled one). Throws CodecError on unknown message or entry types.
 */
export function messageFromWire(w: WireMessage, snapshotData: Uint8Array = EMPTY): Message {
  if (!isMessageType(w.type)) {
    throw new CodecError(CodecErrorCode.UnknownMessageType, `unknown message type ${w.type}`);
  }
  return {
    type: w.type,
    from: w.from,
    to: w.to,
    term: w.term,
    logTerm: w.logTerm,
    index: w.index,
    commit: w.commit,
    entries: w.entries.map(entryFromWire),
    reject: w.reject,
    rejectHint: w.rejectHint,
    snapshot: w.snapshot ? { meta: snapshotMetaFromWire(w.snapshot), data: asBytes(snapshotData) } : null,
    context: asBytes(w.context),
  };
}
