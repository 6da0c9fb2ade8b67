/** SQLite implementation of the enrollment repositories (SCEP transactions, challenges, admin tokens). */
import type Database from 'better-sqlite3';
import { toChallenge, toToken, toTx } from '../enrollment-rows.js';
import type { EnrollmentRepository } from '../enrollment-types.js';
import type { WriteBatcher } from './batch.js';
import { appendAuditSync } from './audit.js';
import { prep } from './prep.js';

type Row = Record<string, unknown>;
export function sqliteEnrollmentRepository(db: Database.Database, w: WriteBatcher): EnrollmentRepository {
  const getTx = prep(db, 'SELECT * FROM scep_transactions WHERE label = ? AND transaction_id = ?');
  const readTx = (label: string, id: string) => {
    const r = getTx.get(label, id) as Row | undefined;
    return r ? toTx(r) : undefined;
  };
  const getToken = (id: string) => {
    const r = prep(db, 'SELECT * FROM admin_tokens WHERE id = ?').get(id) as Row | undefined;
    return r ? toToken(r) : undefined;
  };
  const inList = (n: number) => Array.from({ length: n }, () => '?').join(',');
  return {
    claimScepTransaction: (tx) =>
      w.run((d) => {
        const res = prep(
          d,
          `INSERT INTO scep_transactions (label, transaction_id, signer_key, csr_hash, message_type, status, serial, fail_info, approval_id, created_at, updated_at)
           VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (label, transaction_id) DO NOTHING`,
        ).run(tx.label, tx.transactionId, tx.signerKey, tx.csrHash, tx.messageType, tx.status, tx.serial, tx.failInfo, tx.approvalId, tx.createdAt.getTime(), tx.createdAt.getTime());
        if (res.changes > 0) return { tx: { ...tx, updatedAt: tx.createdAt }, created: true };
        return { tx: readTx(tx.label, tx.transactionId)!, created: false };
        // Not synced on its own: a claim lost to a power failure only means the request is processed
        // again; the outcome (certificate insert, transaction update) is a synchronous commit.
      }, false),
    getScepTransaction: async (label, id) => readTx(label, id),
    updateScepTransaction: (label, id, ch, from, audit = [], opts) =>
      w.run((d) => {
        const res = prep(
          d,
          `UPDATE scep_transactions SET status = ?, serial = COALESCE(?, serial), fail_info = COALESCE(?, fail_info), approval_id = COALESCE(?, approval_id),
             message_type = COALESCE(?, message_type), csr_hash = COALESCE(?, csr_hash), updated_at = ?
           WHERE label = ? AND transaction_id = ? AND status IN (${inList(from.length)})`,
        ).run(ch.status, ch.serial ?? null, ch.failInfo ?? null, ch.approvalId ?? null, ch.messageType ?? null, ch.csrHash ?? null, Date.now(), label, id, ...from);
        if (res.changes === 0) return false;
        appendAuditSync(d, audit);
        return true;
      }, opts?.durable ?? true),
    deleteScepTransaction: (label, id, from) =>
      w.run((d) => prep(d, `DELETE FROM scep_transactions WHERE label = ? AND transaction_id = ? AND status IN (${inList(from.length)})`).run(label, id, ...from).changes > 0),

    createScepChallenge: (ch, audit = []) =>
      w.run((d) => {
        prep(d, 'INSERT INTO scep_challenges (hash, label, subject, sans, created_by, created_at, expires_at) VALUES (?,?,?,?,?,?,?)').run(
          ch.hash, ch.label, ch.subject, ch.sans ? JSON.stringify(ch.sans) : null, ch.createdBy, ch.createdAt.getTime(), ch.expiresAt.getTime());
        appendAuditSync(d, audit);
      }),
    getScepChallenge: async (hash) => {
      const r = prep(db, 'SELECT * FROM scep_challenges WHERE hash = ?').get(hash) as Row | undefined;
      return r ? toChallenge(r) : undefined;
    },
    consumeScepChallenge: (hash, label, now, usedBy, audit = []) =>
      w.run((d) => {
        const res = prep(d, 'UPDATE scep_challenges SET used_at = ?, used_by = ? WHERE hash = ? AND label = ? AND used_at IS NULL AND expires_at > ?')
          .run(now.getTime(), usedBy, hash, label, now.getTime());
        if (res.changes === 0) return false;
        appendAuditSync(d, audit);
        return true;
      }),

    createAdminToken: (t, audit = []) =>
      w.run((d) => {
        prep(d, 'INSERT INTO admin_tokens (id, hash, scopes, description, created_by, created_at) VALUES (?,?,?,?,?,?)').run(
          t.id, t.hash, JSON.stringify(t.scopes), t.description, t.createdBy, t.createdAt.getTime());
        appendAuditSync(d, audit);
      }),
    getAdminToken: async (id) => getToken(id),
    listAdminTokens: async () => (prep(db, 'SELECT * FROM admin_tokens ORDER BY created_at, id').all() as Row[]).map(toToken),
    revokeAdminToken: (id, at, audit = []) =>
      w.run((d) => {
        const res = prep(d, 'UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at.getTime(), id);
        if (res.changes === 0) return false;
        appendAuditSync(d, audit);
        return true;
      }),
    touchAdminToken: (id, at) =>
      w.run((d) => {
        prep(d, 'UPDATE admin_tokens SET last_used_at = ? WHERE id = ?').run(at.getTime(), id);
      }, false),
  };
}
