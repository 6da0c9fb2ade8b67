/** PostgreSQL implementation of the shared approval queue. */
import type pg from 'pg';
import type { ApprovalRequest } from '../approvals.js';
import type { ApprovalRepository } from '../types.js';
import { appendAudit, inTx, ms, query, type Row } from './db.js';

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
    createdAt: new Date(ms(r.created_at)),
    decidedAt: r.decided_at == null ? null : new Date(ms(r.decided_at)),
    decidedBy: (r.decided_by as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    serial: (r.serial as string | null) ?? null,
    extra: r.extra ? (JSON.parse(r.extra as string) as Record<string, unknown>) : null,
  };
}

export function pgApprovalRepository(pool: pg.Pool): ApprovalRepository {
  return {
    submit: (req, audit = []) =>
      inTx(pool, async (c) => {
        // Idempotent: the request already queued under this id (by any node) wins, with no new audit record.
        const inserted = (
          await c.query(
            `INSERT INTO approvals (id, protocol, label, profile, requester, subject, sans, csr_der, status, created_at, extra)
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'pending',$9,$10) ON CONFLICT (id) DO NOTHING RETURNING *`,
            [req.id, req.protocol, req.label, req.profile, req.requester, req.subject, JSON.stringify(req.sans), req.csrDer, req.createdAt.getTime(), req.extra ? JSON.stringify(req.extra) : null],
          )
        ).rows[0];
        if (!inserted) return toApproval((await c.query('SELECT * FROM approvals WHERE id = $1', [req.id])).rows[0]!);
        await appendAudit(c, audit);
        return toApproval(inserted);
      }),
    get: async (id) => {
      const r = (await query(pool, 'SELECT * FROM approvals WHERE id = $1', [id])).rows[0];
      return r ? toApproval(r) : undefined;
    },
    list: async (status) =>
      (status
        ? await query(pool, 'SELECT * FROM approvals WHERE status = $1 ORDER BY created_at, id', [status])
        : await query(pool, 'SELECT * FROM approvals ORDER BY created_at, id')
      ).rows.map(toApproval),
    decide: (id, decision, actor, reason, audit = []) =>
      inTx(pool, async (c) => {
        const res = await c.query("UPDATE approvals SET status = $1, decided_at = $2, decided_by = $3, reason = $4 WHERE id = $5 AND status = 'pending'", [decision, Date.now(), actor, reason, id]);
        if (res.rowCount === 0) return false;
        await appendAudit(c, audit);
        return true;
      }),
    markIssued: async (id, serial) =>
      ((await query(pool, "UPDATE approvals SET status = 'issued', serial = $1 WHERE id = $2 AND status = 'approved'", [serial, id])).rowCount ?? 0) > 0,
  };
}
