/**
 * PostgreSQL leases: one statement takes, renews or refuses a lease. Expiry is decided by the
 * database's clock, so nodes with skewed clocks agree on who holds it.
 */
import type pg from 'pg';
import type { LeaseRepository } from '../ha-types.js';
import { date } from '../rows.js';
import { query } from './db.js';

/** Milliseconds since the epoch on the database server (clock_timestamp: not frozen at transaction start). */
const DB_NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

export function pgLeaseRepository(pool: pg.Pool): LeaseRepository {
  return {
    acquire: async (name, holder, ttlMs) => {
      const res = await query(
        pool,
        `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, ${DB_NOW_MS} + $3)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at <= ${DB_NOW_MS}`,
        [name, holder, Math.round(ttlMs)],
      );
      return res.rowCount === 1;
    },
    release: async (name, holder) => {
      await query(pool, 'DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
    },
    get: async (name) => {
      const r = (await query(pool, 'SELECT name, holder, expires_at FROM leases WHERE name = $1', [name])).rows[0];
      return r ? { name: r.name as string, holder: r.holder as string, expiresAt: date(r.expires_at) } : undefined;
    },
  };
}
