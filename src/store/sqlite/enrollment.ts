/** SQLite implementation of the enrollment repositories (SCEP transactions, challenges, admin tokens). */
import type Database from 'better-sqlite3';
import type { AdminToken, EnrollmentRepository, ScepChallenge, ScepTransaction } from '../enrollment-types.js';
import type { WriteBatcher } from './batch.js';
import { appendAuditSync } from './audit.js';
import { prep } from './prep.js';

type Row = Record<string, unknown>;
const date = (v: unknown) => (v == null ? null : new Date(v as number));

function toTx(r: Row): ScepTransaction {
  return {
    label: r.label as string,
    transactionId: r.transaction_id as string,
    signerKey: r.signer_key as string,
    csrHash: r.csr_hash as string,
    messageType: r.message_type as number,
    status: r.status as ScepTransaction['status'],
    serial: (r.serial as string | null) ?? null,
    failInfo: (r.fail_info as number | null) ?? null,
    approvalId: (r.approval_id as string | null) ?? null,
    createdAt: new Date(r.created_at as number),
    updatedAt: new Date(r.updated_at as number),
  };
}

function toChallenge(r: Row): ScepChallenge {
  return {
    hash: r.hash as string,
    label: r.label as string,
    subject: (r.subject as string | null) ?? null,
    sans: r.sans ? (JSON.parse(r.sans as string) as string[]) : null,
    createdBy: r.created_by as string,
    createdAt: new Date(r.created_at as number),
    expiresAt: new Date(r.expires_at as number),
    usedAt: date(r.used_at),
    usedBy: (r.used_by as string | null) ?? null,
  };
}

function toToken(r: Row): AdminToken {
  return {
    id: r.id as string,
    hash: r.hash as string,
    scopes: JSON.parse(r.scopes as string) as string[],
    description: (r.description as string | null) ?? null,
    createdBy: r.created_by as string,
    createdAt: new Date(r.created_at as number),
    revokedAt: date(r.revoked_at),
    lastUsedAt: date(r.last_used_at),
  };
}

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
