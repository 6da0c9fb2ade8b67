/** SQLite implementation of the shared approval queue. */
import type Database from 'better-sqlite3';
import { toApproval } from '../rows.js';
import type { ApprovalRepository } from '../types.js';
import type { WriteBatcher } from './batch.js';
import { appendAuditSync } from './audit.js';

type Row = Record<string, unknown>;

export function sqliteApprovalRepository(db: Database.Database, w: WriteBatcher): ApprovalRepository {
  const get = (id: string) => {
    const r = db.prepare('SELECT * FROM approvals WHERE id = ?').get(id) as Row | undefined;
    return r ? toApproval(r) : undefined;
  };
  return {
    submit: (req, audit = []) =>
      w.run((d) => {
        const existing = get(req.id);
        if (existing) return existing;
        d.prepare(
          `INSERT INTO approvals (id, protocol, label, profile, requester, subject, sans, csr_der, status, created_at, extra)
           VALUES (?,?,?,?,?,?,?,?, 'pending', ?, ?)`,
        ).run(req.id, req.protocol, req.label, req.profile, req.requester, req.subject, JSON.stringify(req.sans), req.csrDer, req.createdAt.getTime(), req.extra ? JSON.stringify(req.extra) : null);
        appendAuditSync(d, audit);
        return get(req.id)!;
      }),
    get: async (id) => get(id),
    list: async (status) =>
      ((status ? db.prepare('SELECT * FROM approvals WHERE status = ? ORDER BY created_at').all(status) : db.prepare('SELECT * FROM approvals ORDER BY created_at').all()) as Row[]).map(toApproval),
    decide: (id, decision, actor, reason, audit = []) =>
      w.run((d) => {
        const res = d.prepare("UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, reason = ? WHERE id = ? AND status = 'pending'").run(decision, Date.now(), actor, reason, id);
        if (res.changes === 0) return false;
        appendAuditSync(d, audit);
        return true;
      }),
    markIssued: (id, serial) =>
      w.run((d) => d.prepare("UPDATE approvals SET status = 'issued', serial = ? WHERE id = ? AND status = 'approved'").run(serial, id).changes > 0),
  };
}
