/** SQLite implementation of the acme repositories. Writes go through the WriteBatcher so audit records commit atomically. */
import type Database from 'better-sqlite3';
import type {
  AcmeAccountRecord,
  AcmeAuthzRecord,
  AcmeChallengeRecord,
  AcmeOrderRecord,
  AcmeRepository,
  AcmeStoredProblem,
} from '../acme-types.js';
import { FlintError } from '../../errors/index.js';
import { appendAuditSync } from './audit.js';
import type { WriteBatcher } from './batch.js';

type Row = Record<string, unknown>;
type Db = Database.Database;

const date = (v: unknown): Date | null => (v == null ? null : new Date(v as number));
const problem = (v: unknown): AcmeStoredProblem | null => (v == null ? null : (JSON.parse(v as string) as AcmeStoredProblem));

function toAccount(r: Row): AcmeAccountRecord {
  return {
    id: r.id as string,
    thumbprint: r.thumbprint as string,
    jwk: JSON.parse(r.jwk as string) as Record<string, unknown>,
    contact: JSON.parse(r.contact as string) as string[],
    status: r.status as AcmeAccountRecord['status'],
    createdAt: new Date(r.created_at as number),
    provisioner: (r.provisioner as string | undefined) ?? 'acme',
  };
}

function toOrder(r: Row): AcmeOrderRecord {
  return {
    id: r.id as string,
    accountId: r.account_id as string,
    status: r.status as AcmeOrderRecord['status'],
    identifiers: JSON.parse(r.identifiers as string) as AcmeOrderRecord['identifiers'],
    notBefore: date(r.not_before),
    notAfter: date(r.not_after),
    expires: new Date(r.expires as number),
    certSerial: (r.cert_serial as string | null) ?? null,
    error: problem(r.error),
    profile: r.profile as string,
    replaces: (r.replaces as string | null) ?? null,
    createdAt: new Date(r.created_at as number),
  };
}

function toChallenge(r: Row): AcmeChallengeRecord {
  return {
    id: r.id as string,
    authzId: r.authz_id as string,
    type: r.type as AcmeChallengeRecord['type'],
    token: r.token as string,
    status: r.status as AcmeChallengeRecord['status'],
    validated: date(r.validated),
    error: problem(r.error),
  };
}

function loadAuthz(db: Db, r: Row): AcmeAuthzRecord {
  const chs = (db.prepare('SELECT * FROM acme_challenges WHERE authz_id = ? ORDER BY rowid').all(r.id) as Row[]).map(toChallenge);
  return {
    id: r.id as string,
    orderId: r.order_id as string,
    accountId: r.account_id as string,
    identifier: JSON.parse(r.identifier as string) as AcmeAuthzRecord['identifier'],
    status: r.status as AcmeAuthzRecord['status'],
    expires: new Date(r.expires as number),
    wildcard: r.wildcard === 1,
    challenges: chs,
  };
}

export function sqliteAcmeRepository(db: Db, w: WriteBatcher): AcmeRepository {
  let nonceInserts = 0;
  return {
    addNonce: (nonce, expires) =>
      w.run((d) => {
        d.prepare('INSERT INTO acme_nonces (nonce, expires) VALUES (?, ?)').run(nonce, expires.getTime());
        if (++nonceInserts % 200 === 0) d.prepare('DELETE FROM acme_nonces WHERE expires < ?').run(Date.now());
      }),
    consumeNonce: (nonce, now) =>
      w.run((d) => d.prepare('DELETE FROM acme_nonces WHERE nonce = ? AND expires > ?').run(nonce, now.getTime()).changes === 1),

    createAccount: (a, audit = [], eab) =>
      w.run((d) => {
        if (eab) {
          const res = d.prepare('UPDATE acme_eab_keys SET account_id = ?, used_at = ? WHERE kid = ? AND provisioner = ? AND account_id IS NULL').run(a.id, a.createdAt.getTime(), eab.kid, eab.provisioner);
          if (res.changes !== 1) throw new FlintError('unauthorized', 'the external account binding key is unknown or already used');
        }
        d.prepare('INSERT INTO acme_accounts (id, thumbprint, jwk, contact, status, created_at, provisioner) VALUES (?,?,?,?,?,?,?)').run(
          a.id, a.thumbprint, JSON.stringify(a.jwk), JSON.stringify(a.contact), a.status, a.createdAt.getTime(), a.provisioner ?? 'acme');
        appendAuditSync(d, audit);
      }),
    createEabKey: (k, audit = []) =>
      w.run((d) => {
        d.prepare('INSERT INTO acme_eab_keys (kid, provisioner, hmac_key, created_at, account_id, used_at) VALUES (?,?,?,?,?,?)').run(
          k.kid, k.provisioner, k.hmacKey, k.createdAt.getTime(), k.accountId, k.usedAt?.getTime() ?? null);
        appendAuditSync(d, audit);
      }),
    getEabKey: async (kid) => {
      const r = db.prepare('SELECT * FROM acme_eab_keys WHERE kid = ?').get(kid) as Row | undefined;
      if (!r) return undefined;
      return {
        kid: r.kid as string, provisioner: r.provisioner as string, hmacKey: Buffer.from(r.hmac_key as Uint8Array), createdAt: new Date(r.created_at as number),
        accountId: (r.account_id as string | null) ?? null, usedAt: date(r.used_at),
      };
    },
    getAccount: async (id) => {
      const r = db.prepare('SELECT * FROM acme_accounts WHERE id = ?').get(id) as Row | undefined;
      return r ? toAccount(r) : undefined;
    },
    getAccountByThumbprint: async (tp) => {
      const r = db.prepare('SELECT * FROM acme_accounts WHERE thumbprint = ?').get(tp) as Row | undefined;
      return r ? toAccount(r) : undefined;
    },
    updateAccount: (id, patch, audit = []) =>
      w.run((d) => {
        if (patch.contact) d.prepare('UPDATE acme_accounts SET contact = ? WHERE id = ?').run(JSON.stringify(patch.contact), id);
        if (patch.status) d.prepare('UPDATE acme_accounts SET status = ? WHERE id = ?').run(patch.status, id);
        if (patch.jwk && patch.thumbprint) d.prepare('UPDATE acme_accounts SET jwk = ?, thumbprint = ? WHERE id = ?').run(JSON.stringify(patch.jwk), patch.thumbprint, id);
        appendAuditSync(d, audit);
      }),

    createOrder: (o, authzs, audit = []) =>
      w.run((d) => {
        d.prepare(
          `INSERT INTO acme_orders (id, account_id, status, identifiers, not_before, not_after, expires, cert_serial, error, profile, replaces, created_at)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
        ).run(o.id, o.accountId, o.status, JSON.stringify(o.identifiers), o.notBefore?.getTime() ?? null, o.notAfter?.getTime() ?? null,
          o.expires.getTime(), o.certSerial, o.error ? JSON.stringify(o.error) : null, o.profile, o.replaces, o.createdAt.getTime());
        const insA = d.prepare('INSERT INTO acme_authzs (id, order_id, account_id, identifier, status, expires, wildcard) VALUES (?,?,?,?,?,?,?)');
        const insC = d.prepare('INSERT INTO acme_challenges (id, authz_id, type, token, status, validated, error) VALUES (?,?,?,?,?,?,?)');
        for (const a of authzs) {
          insA.run(a.id, a.orderId, a.accountId, JSON.stringify(a.identifier), a.status, a.expires.getTime(), a.wildcard ? 1 : 0);
          for (const c of a.challenges) insC.run(c.id, a.id, c.type, c.token, c.status, null, null);
        }
        appendAuditSync(d, audit);
      }),
    getOrder: async (id) => {
      const r = db.prepare('SELECT * FROM acme_orders WHERE id = ?').get(id) as Row | undefined;
      return r ? toOrder(r) : undefined;
    },
    listOrderIds: async (accountId) =>
      (db.prepare('SELECT id FROM acme_orders WHERE account_id = ? ORDER BY created_at LIMIT 1000').all(accountId) as { id: string }[]).map((r) => r.id),
    getOrderByCertSerial: async (serial) => {
      const r = db.prepare('SELECT * FROM acme_orders WHERE cert_serial = ?').get(serial) as Row | undefined;
      return r ? toOrder(r) : undefined;
    },
    getValidOrderReplacing: async (serial) => {
      const r = db.prepare("SELECT * FROM acme_orders WHERE replaces = ? AND status = 'valid' LIMIT 1").get(serial) as Row | undefined;
      return r ? toOrder(r) : undefined;
    },
    updateOrder: (id, from, patch, audit = []) =>
      w.run((d) => {
        const sets: string[] = [];
        const args: unknown[] = [];
        if (patch.status) (sets.push('status = ?'), args.push(patch.status));
        if (patch.certSerial !== undefined) (sets.push('cert_serial = ?'), args.push(patch.certSerial));
        if (patch.error !== undefined) (sets.push('error = ?'), args.push(patch.error ? JSON.stringify(patch.error) : null));
        if (sets.length === 0) return true;
        const ph = from.map(() => '?').join(',');
        const res = d.prepare(`UPDATE acme_orders SET ${sets.join(', ')} WHERE id = ? AND status IN (${ph})`).run(...args, id, ...from);
        if (res.changes === 0) return false;
        appendAuditSync(d, audit);
        return true;
      }),

    getAuthz: async (id) => {
      const r = db.prepare('SELECT * FROM acme_authzs WHERE id = ?').get(id) as Row | undefined;
      return r ? loadAuthz(db, r) : undefined;
    },
    listAuthzs: async (orderId) => (db.prepare('SELECT * FROM acme_authzs WHERE order_id = ? ORDER BY rowid').all(orderId) as Row[]).map((r) => loadAuthz(db, r)),
    deactivateAuthz: (id, audit = []) =>
      w.run((d) => {
        const res = d.prepare("UPDATE acme_authzs SET status = 'deactivated' WHERE id = ? AND status IN ('pending','valid')").run(id);
        if (res.changes === 0) return false;
        const a = d.prepare('SELECT order_id FROM acme_authzs WHERE id = ?').get(id) as { order_id: string };
        d.prepare("UPDATE acme_orders SET status = 'invalid' WHERE id = ? AND status IN ('pending','ready')").run(a.order_id);
        appendAuditSync(d, audit);
        return true;
      }),
    getChallenge: async (id) => {
      const r = db.prepare('SELECT * FROM acme_challenges WHERE id = ?').get(id) as Row | undefined;
      return r ? toChallenge(r) : undefined;
    },
    listProcessingChallenges: async (limit) =>
      (db.prepare("SELECT id FROM acme_challenges WHERE status = 'processing' LIMIT ?").all(limit) as { id: string }[]).map((r) => r.id),
    startChallenge: (id) =>
      w.run((d) => {
        const res = d
          .prepare("UPDATE acme_challenges SET status = 'processing' WHERE id = ? AND status = 'pending' AND authz_id IN (SELECT id FROM acme_authzs WHERE status = 'pending')")
          .run(id);
        return res.changes === 1;
      }),
    completeChallenge: (id, result, audit = []) =>
      w.run((d) => {
        const ch = d.prepare('SELECT authz_id FROM acme_challenges WHERE id = ?').get(id) as { authz_id: string } | undefined;
        if (!ch) return;
        const authz = d.prepare('SELECT order_id FROM acme_authzs WHERE id = ?').get(ch.authz_id) as { order_id: string };
        if (result.ok) {
          d.prepare("UPDATE acme_challenges SET status = 'valid', validated = ?, error = NULL WHERE id = ? AND status = 'processing'").run(result.validated.getTime(), id);
          d.prepare("UPDATE acme_authzs SET status = 'valid' WHERE id = ? AND status = 'pending'").run(ch.authz_id);
          const left = d.prepare("SELECT COUNT(*) AS n FROM acme_authzs WHERE order_id = ? AND status != 'valid'").get(authz.order_id) as { n: number };
          if (left.n === 0) d.prepare("UPDATE acme_orders SET status = 'ready' WHERE id = ? AND status = 'pending'").run(authz.order_id);
        } else {
          d.prepare("UPDATE acme_challenges SET status = 'invalid', error = ? WHERE id = ? AND status = 'processing'").run(JSON.stringify(result.error), id);
          d.prepare("UPDATE acme_authzs SET status = 'invalid' WHERE id = ? AND status = 'pending'").run(ch.authz_id);
          d.prepare("UPDATE acme_orders SET status = 'invalid', error = ? WHERE id = ? AND status IN ('pending','ready')").run(JSON.stringify(result.error), authz.order_id);
        }
        appendAuditSync(d, audit);
      }),
  };
}
