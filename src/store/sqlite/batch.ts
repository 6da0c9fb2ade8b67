/**
 * Group commit for SQLite: writes queued in the same event-loop turn run in one transaction and
 * are acknowledged only once durable, so concurrent issuances do not serialize on fsync.
 * Each write runs under its own SAVEPOINT so one failing write (e.g. a duplicate serial)
 * rolls back alone and the rest of the batch still commits.
 *
 * Durability without blocking the event loop: better-sqlite3 is synchronous, and with
 * `synchronous=FULL` every COMMIT fsyncs the WAL inside the call — the whole process stalls for
 * the disk flush (1–10 ms). In WAL mode the batcher therefore commits with `synchronous=NORMAL`
 * (COMMIT writes the WAL frames, no sync) and acknowledges a durable write only after an
 * fdatasync of the WAL file that started after its COMMIT returned, run on the libuv thread pool.
 * That is exactly what FULL adds in WAL mode (a WAL sync after each commit,
 * https://sqlite.org/pragma.html#pragma_synchronous); checkpoints and WAL restarts sync on their
 * own under NORMAL. One sync runs at a time; commits that land meanwhile share the next one.
 * Committed data is visible to readers before its sync returns, but never acknowledged before.
 * Databases without a WAL file (in-memory) keep synchronous=FULL commits.
 */
import { closeSync, fdatasync, openSync } from 'node:fs';
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
  /** The WAL file synced after durable commits; undefined = commit with synchronous=FULL. */
  private readonly walPath: string | undefined;
  private walFd: number | undefined;
  private syncing = false;
  /** Durable writes committed and waiting for the next WAL sync. */
  private unsynced: { ack: () => void; fail: (e: unknown) => void }[] = [];

  constructor(private readonly db: Database.Database) {
    this.stmt = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      savepoint: db.prepare('SAVEPOINT w'),
      release: db.prepare('RELEASE w'),
      rollbackTo: db.prepare('ROLLBACK TO w'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
    };
    if (!db.memory && String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal') {
      this.walPath = `${db.name}-wal`;
      db.pragma('synchronous = NORMAL');
      this.syncFull = false;
    }
  }

  /**
   * Queues a write. `durable: false` (audit intents) commits without waiting for a sync (safe
   * against a process crash, and made durable by the next sync) — see README "Durability".
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

  /** Waits for queued writes and the last WAL sync, then releases the WAL file handle. */
  async close(): Promise<void> {
    await this.run(() => undefined);
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }

  private flush(): void {
    this.scheduled = false;
    const items = this.queue.splice(0);
    if (items.length === 0) return;
    const results: { ok: boolean; value: unknown }[] = [];
    if (!this.walPath) {
      const durable = items.some((i) => i.durable);
      if (durable !== this.syncFull) {
        this.db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
        this.syncFull = durable;
      }
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
    items.forEach((it, i) => {
      const r = results[i]!;
      if (!r.ok) it.reject(r.value);
      else if (!it.durable || !this.walPath) it.resolve(r.value);
      else this.unsynced.push({ ack: () => it.resolve(r.value), fail: it.reject });
    });
    if (this.unsynced.length && !this.syncing) this.syncWal();
  }

  /** fdatasync of the WAL on the thread pool; acknowledges the writes committed before it started. */
  private syncWal(): void {
    const waiting = this.unsynced.splice(0);
    this.syncing = true;
    const finish = (err: unknown) => {
      this.syncing = false;
      for (const w of waiting) (err ? w.fail(err) : w.ack());
      if (this.unsynced.length) this.syncWal();
    };
    try {
      this.walFd ??= openSync(this.walPath!, 'r');
    } catch (e) {
      finish(e);
      return;
    }
    fdatasync(this.walFd, finish);
  }
}
