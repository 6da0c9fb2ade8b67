/** `db.prepare`, compiled once per connection and SQL text (compiling costs more than running most statements). */
import type Database from 'better-sqlite3';

const caches = new WeakMap<Database.Database, Map<string, Database.Statement>>();

export function prep(db: Database.Database, sql: string): Database.Statement {
  let c = caches.get(db);
  if (!c) caches.set(db, (c = new Map()));
  let st = c.get(sql);
  if (!st) c.set(sql, (st = db.prepare(sql)));
  return st;
}
