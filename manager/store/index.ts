// The replicated object store: tables, indexes, transactions through Raft, watches, snapshots.
export { MemoryStore, ReadView, Tx, toStoreError, type Proposer, type StoreOptions } from "./store.js";
export { LocalProposer } from "./local-proposer.js";
export { jsonCodec } from "./json-codec.js";
export { StoreError, StoreErrorCode, notFound } from "./errors.js";
export type { TableSchema } from "./table.js";
export { Watch, type WatchOptions } from "./watch.js";
export * from "./types.js";
export { protoCodec } from "./proto-codec.js";
export { SCHEMAS, LABEL_INDEX, stampMeta } from "./schemas.js";
