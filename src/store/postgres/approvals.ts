/** PostgreSQL implementation of the shared approval queue. */
import type pg from 'pg';
import { toApproval } from '../rows.js';
import type { ApprovalRepository } from '../types.js';
import { appendAudit, inTx, query } from './db.js';

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
