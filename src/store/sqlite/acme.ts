/** SQLite implementation of the acme repositories. */
import type Database from 'better-sqlite3';
import type { AcmeRepository } from '../acme-types.js';
import type { WriteBatcher } from './batch.js';

export function sqliteAcmeRepository(_db: Database.Database, _writer: WriteBatcher): AcmeRepository {
  return {};
}
