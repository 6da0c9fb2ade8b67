/** SQLite implementation of the acme repositories. Writes go through the WriteBatcher so audit records commit atomically. */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type {
  AcmeAuthzRecord,
  AcmeRateLimit,
  AcmeRepository,
  AcmeStoredProblem,
} from '../acme-types.js';
import { FlintError } from '../../errors/index.js';
import { problemText, toAccount, toAuthz, toChallenge, toEabKey, toOrder } from '../acme-rows.js';
import { appendAuditSync } from './audit.js';
import { prep } from './prep.js';
import type { WriteBatcher } from './batch.js';

type Row = Record<string, unknown>;
type Db = Database.Database;

let counterWrites = 0;

/**
 * Rate-limit counters, upserted inside the caller's transaction (portable SQL: INSERT … ON CONFLICT
 * … RETURNING works in SQLite ≥ 3.35 and PostgreSQL). Throwing rolls the whole action back.
 */
function applyRateLimits(d: Db, limits: AcmeRateLimit[] | undefined, now: Date): void {
  if (!limits?.length) return;
  const t = now.getTime();
  for (const l of limits) {
    const start = Math.floor(t / l.windowMs) * l.windowMs;
    const retryAfter = Math.max(1, Math.ceil((start + l.windowMs - t) / 1000));
    const refuse = () => {
      throw new FlintError('rateLimited', `rate limit ${l.name} exceeded: at most ${l.limit} per ${Math.round(l.windowMs / 1000)} s`, { code: 'acme.rateLimited', retryAfter });
    };
    if (l.mode === 'check') {
      const r = prep(d, 'SELECT count FROM acme_rate_counters WHERE key = ? AND window_start = ?').get(l.key, start) as { count: number } | undefined;
      if ((r?.count ?? 0) >= l.limit) refuse();
      continue;
    }
    const r = d
      .prepare('INSERT INTO acme_rate_counters (key, window_start, count, expires) VALUES (?, ?, 1, ?) ON CONFLICT (key, window_start) DO UPDATE SET count = acme_rate_counters.count + 1 RETURNING count')
      .get(l.key, start, start + l.windowMs) as { count: number };
    if (l.mode !== 'count' && r.count > l.limit) refuse();
  }
  if (++counterWrites % 500 === 0) prep(d, 'DELETE FROM acme_rate_counters WHERE expires < ?').run(t);
}

/** §7.1.6: every pending order linked to this authorization whose authorizations are all valid becomes ready. */
function promoteLinkedOrders(d: Db, authzId: string): void {
  prep(d, 
    `UPDATE acme_orders SET status = 'ready' WHERE status = 'pending'
       AND id IN (SELECT order_id FROM acme_order_authzs WHERE authz_id = ?)
       AND NOT EXISTS (SELECT 1 FROM acme_order_authzs l JOIN acme_authzs a ON a.id = l.authz_id WHERE l.order_id = acme_orders.id AND a.status != 'valid')`,
  ).run(authzId);
}

function invalidateLinkedOrders(d: Db, authzId: string, error: AcmeStoredProblem | null): void {
  prep(d, "UPDATE acme_orders SET status = 'invalid', error = COALESCE(?, error) WHERE status IN ('pending','ready') AND id IN (SELECT order_id FROM acme_order_authzs WHERE authz_id = ?)").run(
    problemText(error), authzId);
}

function loadAuthz(db: Db, r: Row): AcmeAuthzRecord {
  return toAuthz(r, (prep(db, 'SELECT * FROM acme_challenges WHERE authz_id = ? ORDER BY rowid').all(r.id) as Row[]).map(toChallenge));
}

export function sqliteAcmeRepository(db: Db, w: WriteBatcher): AcmeRepository {
  let nonceInserts = 0;
  /**
   * Lease of the node finishing a processing order or challenge: taken when free or lapsed, counting
   * attempts; the attempt number, or undefined when another node holds it.
   */
  const claim = (table: 'acme_orders' | 'acme_challenges') => (id: string, now: Date, until: Date) =>
    w.run((d) => {
      const r = prep(d, `UPDATE ${table} SET claimed_until = ?, attempts = attempts + 1 WHERE id = ? AND status = 'processing' AND (claimed_until IS NULL OR claimed_until < ?) RETURNING attempts`)
        .get(until.getTime(), id, now.getTime()) as { attempts: number } | undefined;
      return r?.attempts;
    }, false);
  return {
    // Used nonces and leases commit without their own fsync (synchronous=NORMAL: safe against a process
    // crash, made power-safe by the next durable commit). A power loss can at worst bring back a
    // nonce used in the last moments (its request's own effects were not durable either) or drop a
    // lease (the job is then re-run). An fsync per ACME request was most of its cost.
    useNonce: (nonce, expires) =>
      w.run((d) => {
        if (++nonceInserts % 500 === 0) prep(d, 'DELETE FROM acme_used_nonces WHERE expires < ?').run(Date.now());
        return prep(d, 'INSERT INTO acme_used_nonces (nonce, expires) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING').run(nonce, expires.getTime()).changes === 1;
      }, false),
    sharedSecret: async (name) => {
      const get = () => prep(db, 'SELECT value FROM acme_secrets WHERE name = ?').get(name) as { value: Uint8Array } | undefined;
      let r = get();
      if (!r) {
        await w.run((d) => prep(d, 'INSERT INTO acme_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING').run(name, randomBytes(32), Date.now()));
        r = get();
      }
      return Buffer.from(r!.value);
    },
    createAccount: (a, audit = [], eab, opts = {}) =>
      w.run((d) => {
        applyRateLimits(d, opts.limits, opts.now ?? a.createdAt);
        if (eab) {
          const res = prep(d, 'UPDATE acme_eab_keys SET account_id = ?, used_at = ? WHERE kid = ? AND provisioner = ? AND account_id IS NULL').run(a.id, a.createdAt.getTime(), eab.kid, eab.provisioner);
          if (res.changes !== 1) throw new FlintError('unauthorized', 'the external account binding key is unknown or already used');
        }
        prep(d, 'INSERT INTO acme_accounts (id, thumbprint, jwk, contact, status, created_at, provisioner) VALUES (?,?,?,?,?,?,?)').run(
          a.id, a.thumbprint, JSON.stringify(a.jwk), JSON.stringify(a.contact), a.status, a.createdAt.getTime(), a.provisioner ?? 'acme');
        appendAuditSync(d, audit);
      }),
    createEabKey: (k, audit = []) =>
      w.run((d) => {
        prep(d, 'INSERT INTO acme_eab_keys (kid, provisioner, hmac_key, created_at, account_id, used_at) VALUES (?,?,?,?,?,?)').run(
          k.kid, k.provisioner, k.hmacKey, k.createdAt.getTime(), k.accountId, k.usedAt?.getTime() ?? null);
        appendAuditSync(d, audit);
      }),
    getEabKey: async (kid) => {
      const r = prep(db, 'SELECT * FROM acme_eab_keys WHERE kid = ?').get(kid) as Row | undefined;
      return r ? toEabKey(r) : undefined;
    },
    getAccount: async (id) => {
      const r = prep(db, 'SELECT * FROM acme_accounts WHERE id = ?').get(id) as Row | undefined;
      return r ? toAccount(r) : undefined;
    },
    getAccountByThumbprint: async (tp) => {
      const r = prep(db, 'SELECT * FROM acme_accounts WHERE thumbprint = ?').get(tp) as Row | undefined;
      return r ? toAccount(r) : undefined;
    },
    updateAccount: (id, patch, audit = []) =>
      w.run((d) => {
        if (patch.contact) prep(d, 'UPDATE acme_accounts SET contact = ? WHERE id = ?').run(JSON.stringify(patch.contact), id);
        if (patch.status) prep(d, 'UPDATE acme_accounts SET status = ? WHERE id = ?').run(patch.status, id);
        if (patch.jwk && patch.thumbprint) prep(d, 'UPDATE acme_accounts SET jwk = ?, thumbprint = ? WHERE id = ?').run(JSON.stringify(patch.jwk), patch.thumbprint, id);
        appendAuditSync(d, audit);
      }).catch((e: unknown) => {
        // Key rollover racing another account onto the same key (the unique thumbprint): a conflict, not a 500.
        if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new FlintError('conflict', 'the key is already in use by another account', { code: 'acme.keyInUse', cause: e });
        throw e;
      }),

    createOrder: (o, authzs, audit = [], opts = {}) =>
      w.run((d) => {
        const now = opts.now ?? o.createdAt;
        applyRateLimits(d, opts.limits, now);
        const reuse = opts.reuse ?? [];
        for (const id of reuse) {
          const r = prep(d, 'SELECT status, expires FROM acme_authzs WHERE id = ? AND account_id = ?').get(id, o.accountId) as { status: string; expires: number } | undefined;
          if (!r || !['pending', 'valid'].includes(r.status) || r.expires <= now.getTime()) throw new FlintError('conflict', 'a reused authorization changed meanwhile', { code: 'acme.authzChanged' });
        }
        prep(d, 
          `INSERT INTO acme_orders (id, account_id, status, identifiers, not_before, not_after, expires, cert_serial, error, profile, replaces, created_at)
           VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
        ).run(o.id, o.accountId, o.status, JSON.stringify(o.identifiers), o.notBefore?.getTime() ?? null, o.notAfter?.getTime() ?? null,
          o.expires.getTime(), o.certSerial, problemText(o.error), o.profile, o.replaces, o.createdAt.getTime());
        const insA = prep(d, 'INSERT INTO acme_authzs (id, order_id, account_id, identifier, status, expires, wildcard) VALUES (?,?,?,?,?,?,?)');
        const insC = prep(d, 'INSERT INTO acme_challenges (id, authz_id, type, token, status, validated, error) VALUES (?,?,?,?,?,?,?)');
        for (const a of authzs) {
          insA.run(a.id, a.orderId, a.accountId, JSON.stringify(a.identifier), a.status, a.expires.getTime(), a.wildcard ? 1 : 0);
          for (const c of a.challenges) insC.run(c.id, a.id, c.type, c.token, c.status, null, null);
        }
        const link = prep(d, 'INSERT INTO acme_order_authzs (order_id, authz_id, position) VALUES (?,?,?)');
        [...authzs.map((a) => a.id), ...reuse].forEach((id, i) => link.run(o.id, id, i));
        let status = o.status;
        if (status === 'pending') {
          const left = prep(d, "SELECT COUNT(*) AS n FROM acme_order_authzs l JOIN acme_authzs a ON a.id = l.authz_id WHERE l.order_id = ? AND a.status != 'valid'").get(o.id) as { n: number };
          if (left.n === 0) {
            prep(d, "UPDATE acme_orders SET status = 'ready' WHERE id = ?").run(o.id);
            status = 'ready';
          }
        }
        appendAuditSync(d, audit);
        return { status };
      }, opts.durable !== false),
    findReusableAuthz: async (accountId, identifier, wildcard, opts) => {
      const statuses = opts.includePending ? "('valid','pending')" : "('valid')";
      const r = db
        .prepare(
          `SELECT * FROM acme_authzs WHERE account_id = ? AND identifier = ? AND wildcard = ? AND status IN ${statuses} AND expires > ?
           ORDER BY CASE status WHEN 'valid' THEN 0 ELSE 1 END, expires DESC LIMIT 1`,
        )
        .get(accountId, JSON.stringify({ type: identifier.type, value: identifier.value }), wildcard ? 1 : 0, opts.minExpires.getTime()) as Row | undefined;
      return r ? loadAuthz(db, r) : undefined;
    },
    getOrder: async (id) => {
      const r = prep(db, 'SELECT * FROM acme_orders WHERE id = ?').get(id) as Row | undefined;
      return r ? toOrder(r) : undefined;
    },
    listOrderIds: async (accountId) =>
      (prep(db, 'SELECT id FROM acme_orders WHERE account_id = ? ORDER BY created_at LIMIT 1000').all(accountId) as { id: string }[]).map((r) => r.id),
    getOrderByCertSerial: async (serial) => {
      const r = prep(db, 'SELECT * FROM acme_orders WHERE cert_serial = ?').get(serial) as Row | undefined;
      return r ? toOrder(r) : undefined;
    },
    getValidOrderReplacing: async (serial) => {
      const r = prep(db, "SELECT * FROM acme_orders WHERE replaces = ? AND status = 'valid' LIMIT 1").get(serial) as Row | undefined;
      return r ? toOrder(r) : undefined;
    },
    updateOrder: (id, from, patch, audit = [], opts = {}) =>
      w.run((d) => {
        const sets: string[] = [];
        const args: unknown[] = [];
        if (patch.status) (sets.push('status = ?'), args.push(patch.status));
        if (patch.certSerial !== undefined) (sets.push('cert_serial = ?'), args.push(patch.certSerial));
        if (patch.error !== undefined) (sets.push('error = ?'), args.push(problemText(patch.error)));
        if (patch.csr !== undefined) (sets.push('csr = ?'), args.push(patch.csr));
        if (patch.claimedUntil !== undefined) (sets.push('claimed_until = ?'), args.push(patch.claimedUntil?.getTime() ?? null));
        if (sets.length === 0) return true;
        const ph = from.map(() => '?').join(',');
        const res = prep(d, `UPDATE acme_orders SET ${sets.join(', ')} WHERE id = ? AND status IN (${ph})`).run(...args, id, ...from);
        if (res.changes === 0) return false;
        // Counted only when the transition happens; a refusal rolls the transition back.
        applyRateLimits(d, opts.limits, opts.now ?? new Date());
        appendAuditSync(d, audit);
        return true;
      }, opts.durable !== false),
    claimOrder: claim('acme_orders'),
    listStaleOrders: async (now, limit) =>
      (prep(db, "SELECT id FROM acme_orders WHERE status = 'processing' AND claimed_until < ? LIMIT ?").all(now.getTime(), limit) as { id: string }[]).map((r) => r.id),
    findSerialByRequester: async (requester) => (prep(db, 'SELECT serial FROM certificates WHERE requester = ? LIMIT 1').get(requester) as { serial: string } | undefined)?.serial,

    getAuthz: async (id) => {
      const r = prep(db, 'SELECT * FROM acme_authzs WHERE id = ?').get(id) as Row | undefined;
      return r ? loadAuthz(db, r) : undefined;
    },
    listAuthzs: async (orderId) =>
      (prep(db, 'SELECT a.* FROM acme_order_authzs l JOIN acme_authzs a ON a.id = l.authz_id WHERE l.order_id = ? ORDER BY l.position').all(orderId) as Row[]).map((r) => loadAuthz(db, r)),
    deactivateAuthz: (id, audit = []) =>
      w.run((d) => {
        const res = prep(d, "UPDATE acme_authzs SET status = 'deactivated' WHERE id = ? AND status IN ('pending','valid')").run(id);
        if (res.changes === 0) return false;
        invalidateLinkedOrders(d, id, null);
        appendAuditSync(d, audit);
        return true;
      }),
    getChallenge: async (id) => {
      const r = prep(db, 'SELECT * FROM acme_challenges WHERE id = ?').get(id) as Row | undefined;
      return r ? toChallenge(r) : undefined;
    },
    listProcessingChallenges: async (limit) =>
      (prep(db, "SELECT id FROM acme_challenges WHERE status = 'processing' LIMIT ?").all(limit) as { id: string }[]).map((r) => r.id),
    startChallenge: (id, now = new Date()) =>
      w.run((d) => {
        const res = d
          .prepare(
            "UPDATE acme_challenges SET status = 'processing', started_at = ?, claimed_until = NULL WHERE id = ? AND status = 'pending' AND authz_id IN (SELECT id FROM acme_authzs WHERE status = 'pending')",
          )
          .run(now.getTime(), id);
        return res.changes === 1;
      }, false),
    claimChallenge: claim('acme_challenges'),
    listStaleChallenges: async (now, unleasedBefore, limit) =>
      (
        db
          .prepare("SELECT id FROM acme_challenges WHERE status = 'processing' AND (claimed_until < ? OR (claimed_until IS NULL AND (started_at IS NULL OR started_at < ?))) LIMIT ?")
          .all(now.getTime(), unleasedBefore.getTime(), limit) as { id: string }[]
      ).map((r) => r.id),
    completeChallenge: (id, result, audit = [], opts = {}) =>
      w.run((d) => {
        const ch = prep(d, 'SELECT authz_id FROM acme_challenges WHERE id = ?').get(id) as { authz_id: string } | undefined;
        if (!ch) return false;
        if (result.ok) {
          const res = prep(d, "UPDATE acme_challenges SET status = 'valid', validated = ?, error = NULL, claimed_until = NULL WHERE id = ? AND status = 'processing'").run(result.validated.getTime(), id);
          if (res.changes === 0) return false; // another node recorded a result first
          prep(d, "UPDATE acme_authzs SET status = 'valid' WHERE id = ? AND status = 'pending'").run(ch.authz_id);
          promoteLinkedOrders(d, ch.authz_id);
        } else {
          const res = prep(d, "UPDATE acme_challenges SET status = 'invalid', error = ?, claimed_until = NULL WHERE id = ? AND status = 'processing'").run(JSON.stringify(result.error), id);
          if (res.changes === 0) return false;
          prep(d, "UPDATE acme_authzs SET status = 'invalid' WHERE id = ? AND status = 'pending'").run(ch.authz_id);
          invalidateLinkedOrders(d, ch.authz_id, result.error);
        }
        applyRateLimits(d, opts.limits, opts.now ?? new Date());
        appendAuditSync(d, audit);
        return true;
      }, opts.durable !== false),
  };
}
