// A JSON StoreCodec: readable, for tests of the store engine without the protobuf object model.
import type { SnapshotRecord, StoreCodec, TxRecord } from "./types.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

export const jsonCodec: StoreCodec = {
  encodeTx: (tx: TxRecord) => enc.encode(JSON.stringify(tx)),
  decodeTx: (data) => JSON.parse(dec.decode(data)) as TxRecord,
  encodeSnapshot: (s: SnapshotRecord) => enc.encode(JSON.stringify(s)),
  decodeSnapshot: (data) => JSON.parse(dec.decode(data)) as SnapshotRecord,
};
