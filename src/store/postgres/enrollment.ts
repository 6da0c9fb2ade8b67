/**
 * PostgreSQL implementation of the enrollment repositories (SCEP transactions, one-time challenges,
 * admin tokens); mirrors sqlite/enrollment.ts. Every race-sensitive change is one conditional
 * statement (INSERT … ON CONFLICT DO NOTHING, UPDATE … WHERE state), so any number of nodes agree.
 */
import type pg from 'pg';
import { toChallenge, toToken, toTx } from '../enrollment-rows.js';
import type { EnrollmentRepository } from '../enrollment-types.js';
import { FlintError } from '../../errors/index.js';
import { lazyQuery } from './lazy-commit.js';
import { appendAudit, inTx, query } from './db.js';

const SELECT_TX = 'SELECT * FROM scep_transactions WHERE label = $1 AND transaction_id = $2';

export function pgEnrollmentRepository(pool: pg.Pool): EnrollmentRepository {
  return {
    // Not flushed on its own (as in SQLite): a claim lost to a crash of PostgreSQL only means the
    // request is processed again; the outcome (certificate insert, transaction update) is synchronous.
    claimScepTransaction: async (tx) => {
      for (let attempt = 1; ; attempt++) {
        // ON CONFLICT waits for a concurrent claimer to commit, so exactly one caller inserts.
        const ins = await lazyQuery(pool,
          `INSERT INTO scep_transactions (label, transaction_id, signer_key, csr_hash, message_type, status, serial, fail_info, approval_id, created_at, updated_at)
           SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10 FROM lazy_commit ON CONFLICT (label, transaction_id) DO NOTHING RETURNING *`,
          [tx.label, tx.transactionId, tx.signerKey, tx.csrHash, tx.messageType, tx.status, tx.serial, tx.failInfo, tx.approvalId, tx.createdAt.getTime()],
        );
        if (ins.rows[0]) return { tx: toTx(ins.rows[0]), created: true };
        // The winner has committed; if it was deleted meanwhile, claim again.
        const r = (await query(pool, SELECT_TX, [tx.label, tx.transactionId])).rows[0];
        if (r) return { tx: toTx(r), created: false };
        if (attempt === 3) throw new FlintError('conflict', 'the SCEP transaction keeps changing; retry', { code: 'scep.transactionBusy', retryAfter: 1 });
      }
    },
    getScepTransaction: async (label, id) => {
      const r = (await query(pool, SELECT_TX, [label, id])).rows[0];
      return r ? toTx(r) : undefined;
    },
    updateScepTransaction: (label, id, ch, from, audit = [], opts) =>
      inTx(pool, async (c) => {
        const res = await c.query(
          `UPDATE scep_transactions SET status = $1, serial = COALESCE($2, serial), fail_info = COALESCE($3, fail_info), approval_id = COALESCE($4, approval_id),
             message_type = COALESCE($5, message_type), csr_hash = COALESCE($6, csr_hash), updated_at = $7
           WHERE label = $8 AND transaction_id = $9 AND status = ANY($10::text[])`,
          [ch.status, ch.serial ?? null, ch.failInfo ?? null, ch.approvalId ?? null, ch.messageType ?? null, ch.csrHash ?? null, Date.now(), label, id, from],
        );
        if (res.rowCount === 0) return false;
        await appendAudit(c, audit);
        return true;
      }, { durable: opts?.durable ?? true }),
    deleteScepTransaction: async (label, id, from) =>
      ((await query(pool, 'DELETE FROM scep_transactions WHERE label = $1 AND transaction_id = $2 AND status = ANY($3::text[])', [label, id, from])).rowCount ?? 0) > 0,

    createScepChallenge: (ch, audit = []) =>
      inTx(pool, async (c) => {
        await c.query('INSERT INTO scep_challenges (hash, label, subject, sans, created_by, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7)', [
          ch.hash, ch.label, ch.subject, ch.sans ? JSON.stringify(ch.sans) : null, ch.createdBy, ch.createdAt.getTime(), ch.expiresAt.getTime(),
        ]);
        await appendAudit(c, audit);
      }),
    getScepChallenge: async (hash) => {
      const r = (await query(pool, 'SELECT * FROM scep_challenges WHERE hash = $1', [hash])).rows[0];
      return r ? toChallenge(r) : undefined;
    },
    consumeScepChallenge: (hash, label, now, usedBy, audit = []) =>
      inTx(pool, async (c) => {
        // One conditional UPDATE: a concurrent consumer waits on the row lock, then sees used_at set.
        const res = await c.query('UPDATE scep_challenges SET used_at = $1, used_by = $2 WHERE hash = $3 AND label = $4 AND used_at IS NULL AND expires_at > $1', [
          now.getTime(), usedBy, hash, label,
        ]);
        if (res.rowCount === 0) return false;
        await appendAudit(c, audit);
        return true;
      }),

    createAdminToken: (t, audit = []) =>
      inTx(pool, async (c) => {
        await c.query('INSERT INTO admin_tokens (id, hash, scopes, description, created_by, created_at) VALUES ($1,$2,$3,$4,$5,$6)', [
          t.id, t.hash, JSON.stringify(t.scopes), t.description, t.createdBy, t.createdAt.getTime(),
        ]);
        await appendAudit(c, audit);
      }),
    getAdminToken: async (id) => {
      const r = (await query(pool, 'SELECT * FROM admin_tokens WHERE id = $1', [id])).rows[0];
      return r ? toToken(r) : undefined;
    },
    listAdminTokens: async () => (await query(pool, 'SELECT * FROM admin_tokens ORDER BY created_at, id')).rows.map(toToken),
    revokeAdminToken: (id, at, audit = []) =>
      inTx(pool, async (c) => {
        const res = await c.query('UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at.getTime(), id]);
        if (res.rowCount === 0) return false;
        await appendAudit(c, audit);
        return true;
      }),
    touchAdminToken: async (id, at) => {
      // Best effort, not audited, not flushed on its own (as in SQLite).
      await lazyQuery(pool, 'UPDATE admin_tokens SET last_used_at = $1 FROM lazy_commit WHERE id = $2', [at.getTime(), id]);
    },
  };
}
