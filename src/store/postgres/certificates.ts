/** PostgreSQL CAs and certificates. Status changes notify every node (LISTEN/NOTIFY, changes.ts). */
import type pg from 'pg';
import { FlintError } from '../../errors/index.js';
import type { StoreChange } from '../ha-types.js';
import { toCa, toCert } from '../rows.js';
import type { CaRepository, CertificateFilter, CertificateRepository, RevocationChange } from '../types.js';
import { appendAudit, inTx, isUniqueViolation, notifyChange, query } from './db.js';

export function pgCaRepository(pool: pg.Pool): CaRepository {
  return {
    upsert: (ca, audit = []) =>
      inTx(pool, async (c) => {
        await c.query(
          `INSERT INTO cas (id, parent_id, key_uri, cert_der, subject, ski, not_before, not_after, status, created_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
           ON CONFLICT (id) DO UPDATE SET parent_id=excluded.parent_id, key_uri=excluded.key_uri, cert_der=excluded.cert_der,
             subject=excluded.subject, ski=excluded.ski, not_before=excluded.not_before, not_after=excluded.not_after, status=excluded.status`,
          [ca.id, ca.parentId, ca.keyUri, ca.certDer, ca.subject, ca.ski, ca.notBefore.getTime(), ca.notAfter.getTime(), ca.status, ca.createdAt.getTime()],
        );
        await appendAudit(c, audit);
      }),
    get: async (id) => {
      const r = (await query(pool, 'SELECT * FROM cas WHERE id = $1', [id])).rows[0];
      return r ? toCa(r) : undefined;
    },
    list: async () => (await query(pool, 'SELECT * FROM cas ORDER BY created_at, id')).rows.map(toCa),
  };
}

const INSERT_CERT = `INSERT INTO certificates (serial, issuer_id, subject, sans, not_before, not_after, profile, requester, protocol, status,
  revoked_at, revocation_reason, der, created_at, replaces) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)`;

/** `emit` tells this store's own subscribers after COMMIT; other nodes learn through the NOTIFY sent in the transaction. */
export function pgCertificateRepository(pool: pg.Pool, emit: (change: StoreChange) => void, origin: string): CertificateRepository {
  return {
    insert: async (cert, audit = []) => {
      const args = [cert.serial, cert.issuerId, cert.subject, JSON.stringify(cert.sans), cert.notBefore.getTime(), cert.notAfter.getTime(), cert.profile,
        cert.requester, cert.protocol, cert.status, cert.revokedAt?.getTime() ?? null, cert.revocationReason, cert.der, cert.createdAt.getTime(), cert.replaces];
      try {
        if (audit.length === 0) await query(pool, INSERT_CERT, args);
        else
          await inTx(pool, async (c) => {
            await c.query(INSERT_CERT, args);
            await appendAudit(c, audit);
          });
      } catch (e) {
        if (isUniqueViolation(e)) throw new FlintError('conflict', `serial ${cert.serial} already exists`, { code: 'store.duplicateSerial' });
        throw e;
      }
    },
    get: async (serial) => {
      const r = (await query(pool, 'SELECT * FROM certificates WHERE serial = $1', [serial])).rows[0];
      return r ? toCert(r) : undefined;
    },
    list: async (f: CertificateFilter = {}) => {
      const where: string[] = [];
      const args: unknown[] = [];
      const add = (cond: string, v: unknown) => {
        args.push(v);
        where.push(cond.replace('?', `$${args.length}`));
      };
      if (f.issuerId) add('issuer_id = ?', f.issuerId);
      if (f.profile) add('profile = ?', f.profile);
      if (f.status) add('status = ?', f.status);
      if (f.expiringBefore) add('not_after <= ?', f.expiringBefore.getTime());
      if (f.notExpiredAt) add('not_after > ?', f.notExpiredAt.getTime());
      if (f.afterSerial) add('serial > ?', f.afterSerial);
      args.push(f.limit ?? 1_000_000);
      const sql = `SELECT * FROM certificates ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY serial LIMIT $${args.length}`;
      return (await query(pool, sql, args)).rows.map(toCert);
    },
    setStatus: async (ch: RevocationChange, audit = []) => {
      const change = await inTx(pool, async (c) => {
        const row = (
          await c.query<{ issuer_id: string }>(
            'UPDATE certificates SET status = $1, revoked_at = $2, revocation_reason = $3 WHERE serial = $4 AND status = ANY($5::text[]) RETURNING issuer_id',
            [ch.status, ch.revokedAt?.getTime() ?? null, ch.reason, ch.serial, ch.fromStatuses],
          )
        ).rows[0];
        if (!row) return undefined;
        const change: StoreChange = { kind: 'certificateStatus', serial: ch.serial, issuerId: row.issuer_id, status: ch.status };
        await notifyChange(c, { ...change, origin });
        await appendAudit(c, audit); // last: the chain head stays locked only until COMMIT
        return change;
      });
      if (!change) return false;
      emit(change);
      return true;
    },
    countByExpiry: async (now, buckets) => {
      // One scan: a FILTER aggregate per bucket (days to expiry), then everything later.
      const sorted = [...buckets].sort((a, b) => a - b);
      const args: unknown[] = [now.getTime()];
      const cols: string[] = [];
      let prev = now.getTime();
      for (const [i, days] of sorted.entries()) {
        const until = now.getTime() + days * 86_400_000;
        args.push(prev, until);
        cols.push(`count(*) FILTER (WHERE not_after > $${args.length - 1} AND not_after <= $${args.length}) AS b${i}`);
        prev = until;
      }
      args.push(prev);
      cols.push(`count(*) FILTER (WHERE not_after > $${args.length}) AS later`);
      const r = (await query(pool, `SELECT ${cols.join(', ')} FROM certificates WHERE status = 'valid' AND not_after > $1`, args)).rows[0]!;
      const out: Record<string, number> = {};
      sorted.forEach((days, i) => (out[`${days}d`] = Number(r[`b${i}`])));
      out['later'] = Number(r['later']);
      return out;
    },
  };
}
