/** PostgreSQL recent events (see RecentEventRepository): one row per event, indexed by key and time. */
import type pg from 'pg';
import type { RecentEventRepository } from '../ha-types.js';
import { query } from './db.js';
import { lazyQuery } from './lazy-commit.js';

/** Keys that stop getting events are swept on every SWEEP_EVERY-th record of this node. */
const SWEEP_EVERY = 500;

export function pgRecentEventRepository(pool: pg.Pool): RecentEventRepository {
  let records = 0;
  return {
    record: async (key, at, keepMs) => {
      const t = at.getTime();
      // One statement, committed without waiting for the WAL flush (lazy-commit.ts): not acknowledged
      // data. It continues lazyQuery's WITH clause, hence the leading comma.
      await lazyQuery(
        pool,
        `, forgotten AS (DELETE FROM recent_events WHERE key = $1 AND at < $2)
         INSERT INTO recent_events (key, at, expires) SELECT $1, $3, $4 FROM lazy_commit`,
        [key, t - keepMs, t, t + keepMs],
      );
      if (++records % SWEEP_EVERY === 0) await lazyQuery(pool, 'DELETE FROM recent_events WHERE expires < $1 AND EXISTS (SELECT 1 FROM lazy_commit)', [t]);
    },
    since: async (key, after) => {
      const r = (await query<{ n: number; first: number | null }>(pool, 'SELECT count(*) AS n, min(at) AS first FROM recent_events WHERE key = $1 AND at > $2', [key, after.getTime()])).rows[0]!;
      return r.n > 0 && r.first !== null ? { count: r.n, first: new Date(r.first) } : { count: 0 };
    },
  };
}
