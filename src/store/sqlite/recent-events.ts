/** SQLite recent events (see RecentEventRepository): one row per event, indexed by key and time. */
import type Database from 'better-sqlite3';
import type { RecentEventRepository } from '../ha-types.js';
import type { WriteBatcher } from './batch.js';
import { prep } from './prep.js';

/** Keys that stop getting events are swept on every SWEEP_EVERY-th record. */
const SWEEP_EVERY = 500;

export function sqliteRecentEventRepository(db: Database.Database, writer: WriteBatcher): RecentEventRepository {
  const since = db.prepare('SELECT count(*) AS n, min(at) AS first FROM recent_events WHERE key = ? AND at > ?');
  let records = 0;
  return {
    record: (key, at, keepMs) =>
      writer.run((d) => {
        const t = at.getTime();
        prep(d, 'DELETE FROM recent_events WHERE key = ? AND at < ?').run(key, t - keepMs);
        prep(d, 'INSERT INTO recent_events (key, at, expires) VALUES (?, ?, ?)').run(key, t, t + keepMs);
        if (++records % SWEEP_EVERY === 0) prep(d, 'DELETE FROM recent_events WHERE expires < ?').run(t);
      }, false), // not acknowledged data: no fsync of its own
    since: async (key, after) => {
      const r = since.get(key, after.getTime()) as { n: number; first: number | null };
      return r.n > 0 && r.first !== null ? { count: r.n, first: new Date(r.first) } : { count: 0 };
    },
  };
}
