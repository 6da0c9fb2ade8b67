/**
 * Applies pending migrations at open. Several nodes may start together on an empty database:
 * a session-level advisory lock (a fixed key) lets one of them apply each migration while the
 * others wait, then find it recorded in schema_migrations and skip it. Each migration runs in its
 * own transaction with its schema_migrations row, so a failure leaves the previous version intact.
 */
import type pg from 'pg';
import type { Migration } from '../migrations/postgres.js';

/** pg_advisory_lock key: "flint" in ASCII; any fixed value other users of the database do not take. */
export const MIGRATION_LOCK_KEY = 0x666c696e74;

export async function applyMigrations(pool: pg.Pool, migrations: Migration[]): Promise<number[]> {
  const c = await pool.connect();
  const applied: number[] = [];
  let broken = false;
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      const done = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (done.has(m.version)) continue;
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK').catch(() => (broken = true));
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, { cause: e });
        }
        applied.push(m.version);
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => (broken = true));
    }
  } catch (e) {
    broken = true;
    throw e;
  } finally {
    // A failed session is dropped (its advisory lock goes with it) rather than reused.
    c.release(broken);
  }
  return applied;
}
