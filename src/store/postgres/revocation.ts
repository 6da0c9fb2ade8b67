/** PostgreSQL revocation repositories: CRL numbers (NUMERIC, incremented in one statement) and the latest CRLs. */
import type pg from 'pg';
import type { StoreChange } from '../ha-types.js';
import type { RevocationRepository, StoredCrl } from '../revocation-types.js';
import { date, toStoredCrl } from '../rows.js';
import { inTx, notifyChange, query } from './db.js';

export function pgRevocationRepository(pool: pg.Pool, emit: (change: StoreChange) => void, origin: string): RevocationRepository {
  return {
    // Both read the partial index certificates_revoked (migration 101, postgres-revocation.ts).
    revokedPage: async (caId, notAfterAfter, afterSerial, limit) =>
      (
        await query(
          pool,
          `SELECT serial, status, COALESCE(revoked_at, created_at) AS revoked_at, revocation_reason FROM certificates
           WHERE issuer_id = $1 AND status IN ('revoked', 'hold') AND serial > $2 AND not_after > $3 ORDER BY serial LIMIT $4`,
          [caId, afterSerial ?? '', notAfterAfter.getTime(), limit],
        )
      ).rows.map((r) => ({
        serial: r.serial as string,
        status: r.status as 'revoked' | 'hold',
        revokedAt: date(r.revoked_at),
        reason: (r.revocation_reason as number | null) ?? null,
      })),
    revokedDigest: async (caId) => {
      const r = (
        await query(
          pool,
          `SELECT count(*) AS n, count(*) FILTER (WHERE status = 'hold') AS h, COALESCE(max(revoked_at), 0) AS m,
             COALESCE(sum(revoked_at), 0) AS t, COALESCE(sum(revocation_reason), 0) AS r
           FROM certificates WHERE issuer_id = $1 AND status IN ('revoked', 'hold')`,
          [caId],
        )
      ).rows[0]!;
      return `${r.n}:${r.h}:${r.m}:${r.t}:${r.r}`;
    },
    // Atomic across nodes: the row lock taken by the upsert serializes concurrent callers.
    nextCrlNumber: async (caId) => {
      const r = await query<{ n: string }>(
        pool,
        `INSERT INTO crl_numbers (ca_id, last_number) VALUES ($1, 1)
         ON CONFLICT (ca_id) DO UPDATE SET last_number = crl_numbers.last_number + 1 RETURNING last_number::text AS n`,
        [caId],
      );
      return BigInt(r.rows[0]!.n);
    },
    saveCrl: async (crl: StoredCrl) => {
      const saved = await inTx(pool, async (c) => {
        // Replaces an older (or equal) CRL of its kind, never a newer one another node saved first.
        const res = await c.query(
          `INSERT INTO crls (ca_id, kind, number, base_number, this_update, next_update, der, source_hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
           ON CONFLICT (ca_id, kind) DO UPDATE SET number=excluded.number, base_number=excluded.base_number,
             this_update=excluded.this_update, next_update=excluded.next_update, der=excluded.der, source_hash=excluded.source_hash
           WHERE crls.number <= excluded.number`,
          [crl.caId, crl.kind, crl.number.toString(), crl.baseNumber?.toString() ?? null, crl.thisUpdate.getTime(), crl.nextUpdate.getTime(), crl.der, crl.sourceHash],
        );
        if (res.rowCount === 0) return false;
        await notifyChange(c, { kind: 'crl', caId: crl.caId, origin });
        return true;
      });
      if (saved) emit({ kind: 'crl', caId: crl.caId });
    },
    latestCrl: async (caId, kind, newerThan) => {
      const r = (
        await query(
          pool,
          `SELECT number::text AS number, base_number::text AS base_number, this_update, next_update, der, source_hash FROM crls
           WHERE ca_id = $1 AND kind = $2 AND ($3::numeric IS NULL OR number > $3::numeric)`,
          [caId, kind, newerThan?.toString() ?? null],
        )
      ).rows[0];
      return r ? toStoredCrl(caId, kind, r) : undefined;
    },
  };
}
