export * from './types.js';
export { canonicalJson, hashAuditRecord, GENESIS_HASH } from './audit-hash.js';
export { SqliteStore } from './sqlite/store.js';
export { PgStore, type PgStoreOptions } from './postgres/store.js';
