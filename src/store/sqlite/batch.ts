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
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class WriteBatcher {
  private queue: Pending[] = [];
  private scheduled = false;

  constructor(private readonly db: Database.Database) {}

  run<T>(fn: (db: Database.Database) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
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
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      for (const it of items) it.reject(e);
      return;
    }
    for (const it of items) {
      this.db.exec('SAVEPOINT w');
      try {
        const value = it.fn(this.db);
        this.db.exec('RELEASE w');
        results.push({ ok: true, value });
      } catch (e) {
        this.db.exec('ROLLBACK TO w');
        this.db.exec('RELEASE w');
        results.push({ ok: false, value: e });
      }
    }
    try {
      this.db.exec('COMMIT');
    } catch (e) {
      try {
        this.db.exec('ROLLBACK');
      } catch {
        /* already rolled back */
      }
      for (const it of items) it.reject(e);
      return;
    }
    items.forEach((it, i) => (results[i]!.ok ? it.resolve(results[i]!.value) : it.reject(results[i]!.value)));
  }
}
