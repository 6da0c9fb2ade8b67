/**
 * One statement committed without waiting for its WAL flush, in one round trip. Used for the
 * writes SQLite also commits without their own fsync (used nonces, leases, transaction claims):
 * inTx(…, { durable: false }) costs four round trips (BEGIN, SET LOCAL, the statement, COMMIT),
 * about twice this on loopback, and these run on every ACME request.
 *
 * How: a statement outside BEGIN is its own transaction; set_config(…, is_local = true) sets
 * synchronous_commit for that transaction only, and "the behavior for any one transaction is
 * determined by the setting in effect when it commits" (PostgreSQL docs, synchronous_commit).
 * Safe against a crash of any flintca node; a crash of PostgreSQL itself may lose the last such
 * commits (up to 3 × wal_writer_delay; never one that a later synchronous commit follows: the WAL is
 * flushed in order), as a power loss may with SQLite's synchronous=NORMAL.
 */
import type pg from 'pg';
import { query, type Queryable, type Row } from './db.js';

/** `sql` must read from `lazy_commit` (a one-row CTE), e.g. `INSERT … SELECT $1 FROM lazy_commit` or `UPDATE … FROM lazy_commit WHERE …`. */
export function lazyQuery<R extends Row = Row>(db: Queryable, sql: string, values: unknown[]): Promise<pg.QueryResult<R>> {
  if (!/\bFROM lazy_commit\b/.test(sql)) throw new Error('lazyQuery: the statement must read FROM lazy_commit');
  return query<R>(db, `WITH lazy_commit AS (SELECT set_config('synchronous_commit', 'off', true)) ${sql}`, values);
}
