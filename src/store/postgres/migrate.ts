/**
 * Applies pending migrations at open. Several nodes may start together on an empty database:
 * a session-level advisory lock (a fixed key) lets one of them apply each migration while the
 * others wait, then find it recorded in schema_migrations and skip it. Each migration runs in its
 * own transaction with its schema_migrations row, so a failure leaves the previous version intact.
 */
import pg from 'pg';
import type { Migration } from '../migrations/postgres.js';

/** pg_advisory_lock key: "flint" in ASCII; any fixed value other users of the database do not take. */
export const MIGRATION_LOCK_KEY = 0x666c696e74;

/** Runs on its own connection, without the pool's statement and read timeouts: a migration (or waiting for another node's) may take long. */
export async function applyMigrations(config: pg.ClientConfig, migrations: Migration[]): Promise<number[]> {
  const { statement_timeout: _s, query_timeout: _q, ...rest } = config;
  const c = new pg.Client(rest);
  c.on('error', () => undefined); // a dropped connection fails the pending query; no unhandled 'error'
  await c.connect();
  const applied: number[] = [];
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
          await c.query('ROLLBACK').catch(() => undefined);
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, { cause: e });
        }
        applied.push(m.version);
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    // Ending the session also drops the advisory lock if unlocking failed.
    await c.end().catch(() => undefined);
  }
  return applied;
}
