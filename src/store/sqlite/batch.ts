/**
 * Group commit for SQLite: writes queued in the same event-loop turn run in one transaction
 * (one WAL fsync) and are acknowledged only after COMMIT returns, so nothing is acknowledged
 * before it is durable and concurrent issuances do not serialize on fsync.
 * Each write runs under its own SAVEPOINT so one failing write (e.g. a duplicate serial)
 * rolls back alone and the rest of the batch still commits.
 */
import type Database from 'better-sqlite3';

interface Pending {
  fn: (db: Database.Database) => unknown;
  durable: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class WriteBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private syncFull = true;
  private readonly stmt: Record<'begin' | 'savepoint' | 'release' | 'rollbackTo' | 'commit' | 'rollback', Database.Statement>;

  constructor(private readonly db: Database.Database) {
    this.stmt = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      savepoint: db.prepare('SAVEPOINT w'),
      release: db.prepare('RELEASE w'),
      rollbackTo: db.prepare('ROLLBACK TO w'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    };
  }

  /**
   * Queues a write. `durable: false` (audit intents) commits without its own fsync
   * (synchronous=NORMAL: safe against a process crash, and made durable by the next FULL commit,
   * which syncs the whole WAL) — see README "Durability".
   */
  run<T>(fn: (db: Database.Database) => T, durable = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, durable, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.queue.splice(0);
    if (items.length === 0) return;
    const results: { ok: boolean; value: unknown }[] = [];
    const durable = items.some((i) => i.durable);
    if (durable !== this.syncFull) {
      this.db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
      this.syncFull = durable;
    }
    try {
      this.stmt.begin.run();
    } catch (e) {
      for (const it of items) it.reject(e);
      return;
    }
    for (const it of items) {
      this.stmt.savepoint.run();
      try {
        const value = it.fn(this.db);
        this.stmt.release.run();
        results.push({ ok: true, value });
      } catch (e) {
        this.stmt.rollbackTo.run();
        this.stmt.release.run();
        results.push({ ok: false, value: e });
      }
    }
    try {
      this.stmt.commit.run();
    } catch (e) {
      try {
        this.stmt.rollback.run();
      } catch {
        /* already rolled back */
      }
      for (const it of items) it.reject(e);
      return;
    }
    items.forEach((it, i) => (results[i]!.ok ? it.resolve(results[i]!.value) : it.reject(results[i]!.value)));
  }
}
