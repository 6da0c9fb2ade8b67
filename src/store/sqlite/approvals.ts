/** SQLite implementation of the shared approval queue. */
import type Database from 'better-sqlite3';
import type { ApprovalRequest } from '../approvals.js';
import type { ApprovalRepository } from '../types.js';
import type { WriteBatcher } from './batch.js';
import { appendAuditSync } from './audit.js';

type Row = Record<string, unknown>;

function toApproval(r: Row): ApprovalRequest {
  return {
    id: r.id as string,
    protocol: r.protocol as ApprovalRequest['protocol'],
    label: r.label as string,
    profile: r.profile as string,
    requester: r.requester as string,
    subject: r.subject as string,
    sans: JSON.parse(r.sans as string) as string[],
    csrDer: r.csr_der as Buffer,
    status: r.status as ApprovalRequest['status'],
    createdAt: new Date(r.created_at as number),
    decidedAt: r.decided_at == null ? null : new Date(r.decided_at as number),
    decidedBy: (r.decided_by as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    serial: (r.serial as string | null) ?? null,
    extra: r.extra ? (JSON.parse(r.extra as string) as Record<string, unknown>) : null,
  };
}

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
