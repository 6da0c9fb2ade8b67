/** SQLite implementation of the revocation repositories. */
import type Database from 'better-sqlite3';
import type { RevocationRepository } from '../revocation-types.js';
import type { WriteBatcher } from './batch.js';

export function sqliteRevocationRepository(_db: Database.Database, _writer: WriteBatcher): RevocationRepository {
  return {};
}
