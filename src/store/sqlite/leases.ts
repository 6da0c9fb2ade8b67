/** SQLite leases: one row per lease; processes sharing the file share the machine's clock. */
import type Database from 'better-sqlite3';
import type { LeaseRepository } from '../ha-types.js';
import type { WriteBatcher } from './batch.js';

type Row = Record<string, unknown>;

export function sqliteLeaseRepository(db: Database.Database, writer: WriteBatcher): LeaseRepository {
  const get = db.prepare('SELECT name, holder, expires_at FROM leases WHERE name = ?');
  return {
    acquire: (name, holder, ttlMs) =>
      writer.run((d) => {
        const now = Date.now();
        const res = d
          .prepare(
            `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
             ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
          )
          .run(name, holder, now + ttlMs, now);
        return res.changes === 1;
      }),
    release: (name, holder) =>
      writer.run((d) => {
        d.prepare('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
      }),
    get: async (name) => {
      const r = get.get(name) as Row | undefined;
      return r ? { name: r.name as string, holder: r.holder as string, expiresAt: new Date(r.expires_at as number) } : undefined;
    },
  };
}
