/**
 * store/sqlite/batch.ts: group commit with the WAL sync off the event loop. In WAL mode commits
 * run with synchronous=NORMAL and durable writes are acknowledged after a WAL fdatasync; a
 * failing write rolls back alone; close() waits for the last sync. A real SQLite file, no mocks.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WriteBatcher } from '../../../src/store/sqlite/batch.js';
import { tempDir } from '../../helpers/tmp.js';

const dir = tempDir('flintca-batch-');
afterAll(() => dir.cleanup());

function open(name: string): Database.Database {
  const db = new Database(join(dir.path, name));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
  return db;
}
const insert = (k: string, v: number) => (d: Database.Database) => d.prepare('INSERT INTO t (k, v) VALUES (?, ?)').run(k, v).changes;

describe('WriteBatcher', () => {
  it('WAL file: commits without an fsync inside COMMIT; durable writes resolve after the WAL sync, non-durable ones at once', async () => {
    const db = open('wal.db');
    const w = new WriteBatcher(db);
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    const order: string[] = [];
    const durable = w.run(insert('a', 1)).then((v) => (order.push('durable'), v));
    const lazy = w.run(insert('b', 2), false).then((v) => (order.push('lazy'), v));
    expect(await Promise.all([durable, lazy])).toEqual([1, 1]);
    expect(order).toEqual(['lazy', 'durable']);
    // Writes committed while a sync is in flight share the next one; all are acknowledged.
    const many = await Promise.all(Array.from({ length: 50 }, (_, i) => new Promise((r) => setTimeout(r, i % 5)).then(() => w.run(insert(`k${i}`, i)))));
    expect(many.every((v) => v === 1)).toBe(true);
    expect((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(52);
    await w.close();
    db.close();
    // Reopened: everything acknowledged is there.
    const again = new Database(join(dir.path, 'wal.db'));
    expect((again.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(52);
    again.close();
  });

  it('a failing write rolls back alone; the rest of the batch commits and is acknowledged', async () => {
    const db = open('fail.db');
    const w = new WriteBatcher(db);
    await w.run(insert('dup', 1));
    const results = await Promise.allSettled([w.run(insert('x', 1)), w.run(insert('dup', 2)), w.run(insert('y', 3), false)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((db.prepare('SELECT v FROM t WHERE k = ?').get('dup') as { v: number }).v).toBe(1);
    await w.close();
    db.close();
  });

  it('an in-memory database keeps synchronous=FULL commits for durable batches', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
    const w = new WriteBatcher(db);
    await w.run(insert('a', 1), false);
    expect(db.pragma('synchronous', { simple: true })).toBe(1);
    await w.run(insert('b', 1));
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    await w.close();
    db.close();
  });
});
