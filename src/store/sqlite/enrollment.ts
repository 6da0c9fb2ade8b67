/** SQLite implementation of the enrollment repositories. */
import type Database from 'better-sqlite3';
import type { EnrollmentRepository } from '../enrollment-types.js';
import type { WriteBatcher } from './batch.js';

export function sqliteEnrollmentRepository(_db: Database.Database, _writer: WriteBatcher): EnrollmentRepository {
  return {};
}
