/** Audit chain append for SQLite: runs inside the caller's transaction (BEGIN IMMEDIATE holds the write lock). */
import type Database from 'better-sqlite3';
import { GENESIS_HASH, hashAuditRecord } from '../audit-hash.js';
import type { AuditInput, AuditRecord } from '../types.js';

type Db = Database.Database;

/** Appends chained audit records inside the caller's transaction. */
const statements = new WeakMap<Db, { head: Database.Statement; insert: Database.Statement }>();

function prepared(db: Db) {
  let s = statements.get(db);
  if (!s) {
    s = {
      head: db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1'),
      insert: db.prepare('INSERT INTO audit_events (seq, time, actor, action, object, result, reason, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)'),
    };
    statements.set(db, s);
  }
  return s;
}

export function appendAuditSync(db: Db, events: AuditInput[], now = new Date()): AuditRecord[] {
  if (events.length === 0) return [];
  const { head: headStmt, insert } = prepared(db);
  const head = headStmt.get() as { seq: number; hash: string } | undefined;
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  const out: AuditRecord[] = [];
  for (const e of events) {
    seq += 1;
    const base = {
      seq,
      time: now.toISOString(),
      actor: e.actor,
      action: e.action,
      object: e.object,
      result: e.result,
      reason: e.reason ?? null,
      data: e.data ?? null,
      prevHash,
    };
    const rec: AuditRecord = { ...base, hash: hashAuditRecord(base) };
    insert.run(rec.seq, rec.time, rec.actor, rec.action, rec.object, rec.result, rec.reason, rec.data ? JSON.stringify(rec.data) : null, rec.prevHash, rec.hash);
    prevHash = rec.hash;
    out.push(rec);
  }
  return out;
}

